// 憑證載具密碼變更 in the browser: the card is read through the local card agent (憑證儲存媒體,
// whose card it is, whether it is locked); [確定] sends the old PIN and the new one to the agent
// only, which checks them against the card's rules and has the card change its PIN (CHANGE
// REFERENCE DATA). The page forgets the PINs at once, whatever the answer; the platform never
// sees them. The agent's refusals are shown as it words them (tries left, 請洽申辦分行).

import { AgentError, createAgent } from "/static/agent.js";

// The page's words (fxml.web.labels.SCRIPT_WORDS), from the JSON block the page embeds.
const WORDS = JSON.parse(document.getElementById("fxml-words").textContent);
const root = document.getElementById("pin-change");
const meta = document.querySelector('meta[name="fxml-agent"]');
const agent = createAgent((meta && meta.content) || undefined);
const $ = (id) => root.querySelector(`[data-testid="${id}"]`);
const boxes = ["old-pin", "new-pin", "new-pin-again"].map((id) => $(id));
const button = root.querySelector("#confirm");
const insertCard = $("carrier").textContent;

function say(id, text, code) {
  const box = $(id);
  box.textContent = text || "";
  box.dataset.code = code || "";
  box.hidden = !text;
}

function agentMissing(error) {
  const missing = error instanceof AgentError && error.code === "AGENT_UNREACHABLE";
  $("agent-missing").hidden = !missing;
  return missing;
}

// The customer's card in a reader (the holder the platform's ticket names), or why there is none.
async function findCard() {
  const readers = (await agent.readers()).filter((reader) => reader.present && reader.card);
  const mine = readers.find((reader) => reader.card.holder_id === root.dataset.holder);
  if (mine) {
    return mine;
  }
  throw new AgentError(readers.length ? "NOT_YOUR_CARD" : "NO_CARD",
    readers.length ? WORDS.NOT_YOUR_CARD : WORDS.NO_CARD);
}

// What the page says of the card itself (not of a change tried): whose card, locked.
const CARD_NOTICES = ["NOT_YOUR_CARD", "CARD_LOCKED"];

function cardNotice(text, code) {
  if (text) {
    say("pin-change-error", text, code);
  } else if (CARD_NOTICES.includes($("pin-change-error").dataset.code)) {
    say("pin-change-error", "");
  }
}

async function showCard() {
  try {
    const reader = await findCard();
    $("carrier").textContent = reader.card.carrier || WORDS.CARRIER_DEFAULT;
    agentMissing(null);
    cardNotice(reader.card.pin_blocked ? WORDS.CARD_LOCKED : "", "CARD_LOCKED");
  } catch (error) {
    $("carrier").textContent = insertCard;
    if (!agentMissing(error)) {
      cardNotice(error.code === "NOT_YOUR_CARD" ? error.message : "", error.code);
    }
  } finally {
    root.dataset.card = "read"; // the page has read the card (or said why it could not)
  }
}

// The three PINs as typed, or the first thing missing (nothing is sent then).
function typed() {
  const [oldPin, newPin, again] = boxes.map((box) => box.value);
  const missing = [[oldPin, "OLD_PIN_MISSING"], [newPin, "NEW_PIN_MISSING"], [again, "NEW_PIN_AGAIN_MISSING"]]
    .find(([value]) => !value);
  if (missing) {
    throw new AgentError(missing[1], WORDS[missing[1]]);
  }
  if (newPin !== again) {
    throw new AgentError("NEW_PIN_MISMATCH", WORDS.NEW_PIN_MISMATCH);
  }
  return { oldPin, newPin };
}

button.addEventListener("click", async () => {
  button.disabled = true;
  say("pin-change-error", "");
  say("pin-change-done", "");
  try {
    const { oldPin, newPin } = typed();
    const reader = await findCard();
    await agent.changePin(reader.name, oldPin, newPin);
    say("pin-change-done", WORDS.PIN_CHANGED);
  } catch (error) {
    if (!agentMissing(error)) {
      say("pin-change-error", error.message, error.code);
    }
  } finally {
    boxes.forEach((box) => { box.value = ""; }); // the PINs are forgotten at once, whatever the answer
    button.disabled = false;
  }
});

showCard();
agent.events((event) => {
  if (event.type === "card_inserted" || event.type === "card_removed") {
    showCard();
  }
}, () => {});
