// 憑證查詢 in the browser: the list comes from the platform (the CA's records); the card in the
// reader is read through the local card agent (no PIN: the agent reads the certificates only), and
// the rows of the certificates it holds say so, with the card's own 憑證儲存媒體. When the cards
// change (inserted, removed) the rows follow. The platform never reaches the card.

import { AgentError, createAgent } from "/static/agent.js";

// The page's words (fxml.web.labels.SCRIPT_WORDS), from the JSON block the page embeds.
const WORDS = JSON.parse(document.getElementById("fxml-words").textContent);
const root = document.getElementById("query");
const meta = document.querySelector('meta[name="fxml-agent"]');
const agent = createAgent((meta && meta.content) || undefined);
const $ = (id) => root.querySelector(`[data-testid="${id}"]`);
const rows = Array.from(root.querySelectorAll('[data-testid="query-row"]'));
const chip = rows.length ? rows[0].querySelector('[data-testid="query-carrier"]').textContent : "";

function say(id, text) {
  const box = $(id);
  box.textContent = text || "";
  box.hidden = !text;
}

// The rows as the card in the reader has them: marked, with the card's 憑證儲存媒體, or as listed.
function mark(cards) {
  const onCard = new Map();
  for (const card of cards) {
    for (const cert of card.certificates || []) {
      onCard.set(String(cert.serial).toUpperCase(), card);
    }
  }
  const found = [];
  for (const row of rows) {
    const card = onCard.get(row.dataset.serial);
    row.querySelector('[data-testid="query-carrier"]').textContent = card ? card.carrier || chip : chip;
    row.querySelector('[data-testid="query-on-card"]').textContent = card ? WORDS.ON_CARD : "";
    row.classList.toggle("on-card", Boolean(card));
    if (card) {
      found.push({ carrier: card.carrier || chip });
    }
  }
  return found;
}

async function look() {
  try {
    const readers = await agent.readers();
    const cards = readers.filter((reader) => reader.present && reader.card).map((reader) => reader.card);
    const found = mark(cards);
    say("query-error", "");
    if (found.length) {
      say("query-card", WORDS.QUERY_CARD.replace("{carrier}", found[0].carrier).replace("{count}", found.length));
    } else if (cards.length) {
      say("query-card", "");
      say("query-error", WORDS.QUERY_OTHER_CARD);
    } else {
      say("query-card", WORDS.QUERY_NO_CARD);
    }
    $("agent-missing").hidden = true;
  } catch (error) {
    mark([]);
    say("query-card", "");
    if (error instanceof AgentError && error.code === "AGENT_UNREACHABLE") {
      $("agent-missing").hidden = false;
    } else {
      say("query-error", error.message);
    }
  } finally {
    root.dataset.card = "read"; // the page has read the card (or said why it could not)
  }
}

look();
agent.events((event) => {
  if (event.type === "card_inserted" || event.type === "card_removed") {
    look();
  }
}, () => {});
