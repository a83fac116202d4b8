// 憑證更新 in the browser: the pages of stages 2 and 3 talk to the local card
// agent (the PIN goes to it only) and to the platform (which keeps the record).
//
// Stage 2 (確認更新資訊): the agent reads the inserted card (Common Name,
// 憑證儲存媒體); [確定] gives the PIN to the agent, which verifies it on the card
// and keeps that card session; the page forgets the PIN and tells the platform
// which card holds the certificate.
// Stage 3 (更新約定條款): [更新], the page's prompt (step 5), [確定]: the platform
// notes the terms accepted and hands back a renewal token, which the page gives
// the agent with its card session; the agent runs the renewal and the page
// shows its progress, then its message 「憑證下載成功!」 (step 6), whose [確定]
// opens the 憑證下載 page. [取消] on the prompt starts nothing and says so.
// The prompt and the message are windows of the page (<dialog>), in the bank's
// style, not the browser's confirm() and alert(): they can be seen and captured
// like the rest of the page.
//
// The agent's card-session id (never the PIN) is kept in sessionStorage for the
// tab, so a reload between the stages need not ask for the PIN again while the
// card stays in and the session lives.
//
// 憑證下載's pages run the same script (data-mode="download", data-base="/download"):
// the card is the customer's (its holder id, data-holder) or a blank one that names
// no holder, rather than the one holding the certificate being renewed; the agent
// runs the engine of the record's kind.

import { AgentError, createAgent } from "/static/agent.js";
import { ask } from "/assets/dialog.js";

// The page's words (fxml.web.labels.SCRIPT_WORDS), from the JSON block the page embeds.
const WORDS = JSON.parse(document.getElementById("fxml-words").textContent);

const root = document.getElementById("renewal");
const meta = (name) => {
  const tag = document.querySelector(`meta[name="${name}"]`);
  return tag ? tag.content : "";
};
const agent = createAgent(meta("fxml-agent") || undefined);
const csrf = meta("csrf-token");
const renewalId = root.dataset.renewal;
const oldSerial = (root.dataset.oldSerial || "").toUpperCase();
const forDownload = root.dataset.mode === "download";
const base = root.dataset.base || "/renew";
const holder = root.dataset.holder || "";
// The words that differ between the two: what a wrong card is, what the button says after a stop.
const SAID = forDownload
  ? { wrongCard: "CARD_NOT_CUSTOMERS", wrongCardShown: WORDS.CARD_OF_ANOTHER, again: WORDS.CONTINUE_DOWNLOAD,
      failed: WORDS.DOWNLOAD_FAILED }
  : { wrongCard: "CARD_NOT_HOLDING_CERTIFICATE", wrongCardShown: WORDS.CARD_WITHOUT_CERTIFICATE,
      again: WORDS.CONTINUE_UPDATE, failed: WORDS.RENEWAL_FAILED };
const sessionKey = `fxml-agent-session:${renewalId}`;

const $ = (id) => root.querySelector(`[data-testid="${id}"]`);

function showError(message, code) {
  const box = $("renew-error");
  box.textContent = message;
  box.dataset.code = code || "";
  box.hidden = false;
}

function clearError() {
  const box = $("renew-error");
  box.hidden = true;
  box.textContent = "";
  box.dataset.code = "";
}

function agentMissing(error) {
  if (error instanceof AgentError && error.code === "AGENT_UNREACHABLE") {
    $("agent-missing").hidden = false;
    return true;
  }
  return false;
}

async function platform(path, body) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify(body || {}),
    });
  } catch (error) {
    // The browser's own words ("Failed to fetch") are no message for a customer.
    throw new AgentError("PLATFORM_UNREACHABLE", WORDS.PLATFORM_UNREACHABLE, 0);
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = data.error || { code: "PLATFORM_ERROR", message: WORDS.PLATFORM_ERROR };
    throw new AgentError(error.code, error.message, response.status);
  }
  return data;
}

// Whether a card is the one to use: it holds the certificate being renewed, or (a download) it is
// the customer's or names no holder (a blank card).
function usable(card) {
  if (forDownload) {
    return !card.holder_id || card.holder_id === holder;
  }
  return (card.certificates || []).some((cert) => String(cert.serial).toUpperCase() === oldSerial);
}

// The card to use (or null), from the agent's readers.
async function findCard() {
  const readers = await agent.readers();
  const withCards = readers.filter((reader) => reader.present && reader.card);
  const holding = withCards.filter((reader) => usable(reader.card));
  return { holding: holding[0] || null, cards: withCards.length };
}

async function showCard() {
  const carrier = $("carrier");
  if (!carrier) {
    return null;
  }
  try {
    const { holding, cards } = await findCard();
    if (holding) {
      carrier.textContent = holding.card.carrier || WORDS.CARRIER_DEFAULT;
      clearError();
    } else if (cards > 0) {
      carrier.textContent = SAID.wrongCardShown;
    } else {
      carrier.textContent = WORDS.INSERT_CARD;
    }
    return holding;
  } catch (error) {
    if (!agentMissing(error)) {
      showError(error.message, error.code);
    }
    return null;
  }
}

async function openCardSession() {
  const pinBox = root.querySelector("#pin");
  const pin = pinBox ? pinBox.value : "";
  if (pinBox) {
    pinBox.value = ""; // the PIN is forgotten at once, whatever the card or the page says next
  }
  if (!pin) {
    throw new AgentError("PIN_MISSING", WORDS.PIN_MISSING);
  }
  const { holding, cards } = await findCard();
  if (!holding) {
    throw new AgentError(
      cards > 0 ? SAID.wrongCard : "NO_CARD",
      cards > 0 ? WORDS[SAID.wrongCard] : WORDS.NO_CARD,
    );
  }
  const session = await agent.openSession(holding.name, pin);
  sessionStorage.setItem(sessionKey, session.session);
  return session;
}

// -- stage 2: 確認更新資訊 ---------------------------------------------------------------------
async function confirmStage() {
  const button = root.querySelector("#confirm");
  button.addEventListener("click", async () => {
    button.disabled = true;
    clearError();
    try {
      const session = await openCardSession();
      await platform(`${base}/${renewalId}/confirm`, { card: session.card });
      window.location.assign(`${base}/${renewalId}`);
    } catch (error) {
      if (!agentMissing(error)) {
        showError(error.message, error.code);
      }
      button.disabled = false;
    }
  });
  await showCard();
  agent.events((event) => {
    if (event.type === "card_inserted" || event.type === "card_removed") {
      showCard();
    }
  }, () => {});
}

// -- stage 3: 更新約定條款, then the renewal -----------------------------------------------------
async function liveSession() {
  const id = sessionStorage.getItem(sessionKey);
  if (!id) {
    return null;
  }
  try {
    const session = await agent.session(id);
    if (root.dataset.card && session.card && session.card.card_serial !== root.dataset.card) {
      return null;
    }
    return session;
  } catch (error) {
    if (agentMissing(error)) {
      throw error;
    }
    sessionStorage.removeItem(sessionKey);
    return null;
  }
}

function progress(job) {
  const box = $("renew-progress");
  box.hidden = false;
  const bar = box.querySelector("progress");
  bar.value = (job.progress || []).length;
  $("progress-label").textContent = job.label || "";
}

function waitForJob(job) {
  return new Promise((resolve, reject) => {
    let stop = () => {};
    const settle = (current) => {
      progress(current);
      if (current.status === "done") {
        stop();
        resolve(current);
      } else if (current.status === "failed") {
        stop();
        const error = current.error || { code: "RENEWAL_FAILED", message: SAID.failed };
        reject(new AgentError(error.code, error.message));
      }
    };
    stop = agent.events((event) => {
      if (event.type === "renewal" && event.data && event.data.job === job.job) {
        settle(event.data);
      } else if (event.type === "hello") {
        agent.renewal(job.job).then(settle, reject); // caught up after (re)connecting
      }
    }, () => {});
    settle(job);
  });
}

async function termsStage() {
  const button = root.querySelector("#update");
  const pinAgain = $("pin-again");
  try {
    if (!(await liveSession())) {
      pinAgain.hidden = false;
    }
  } catch (error) {
    agentMissing(error);
  }
  button.addEventListener("click", async () => {
    if (button.disabled) {
      return;
    }
    button.disabled = true;
    clearError();
    try {
      let session = await liveSession();
      if (!session) {
        pinAgain.hidden = false;
        session = await openCardSession();
        pinAgain.hidden = true;
      }
      // Step 5: the page's prompt; [確定] starts the renewal, [取消] nothing.
      $("renew-cancelled").hidden = true;
      if (!(await ask($("renew-prompt")))) {
        $("renew-cancelled").hidden = false;
        button.disabled = false;
        return;
      }
      const accepted = await platform(`${base}/${renewalId}/accept`, {});
      const job = await agent.renew({
        session: session.session,
        renewalId,
        renewalToken: accepted.renewal_token,
        platformUrl: window.location.origin,
      });
      await waitForJob(job);
      // The card is the customer's again: the agent's card session ends here.
      await agent.closeSession(session.session).catch(() => {});
      sessionStorage.removeItem(sessionKey);
      // Step 6: 「憑證下載成功!」 in the page's window; its [確定] opens the 憑證下載 page.
      await ask($("renew-downloaded"));
      window.location.assign(`${base}/${renewalId}/done`);
    } catch (error) {
      if (!agentMissing(error)) {
        showError(error.message, error.code);
      }
      if (error.code === "SESSION_NOT_FOUND" || error.code === "SESSION_CLOSED" || error.code === "CARD_REMOVED") {
        sessionStorage.removeItem(sessionKey);
        pinAgain.hidden = false;
      }
      button.textContent = SAID.again;
      button.disabled = false;
    }
  });
}

if (root.dataset.stage === "confirm") {
  confirmStage();
} else if (root.dataset.stage === "terms") {
  termsStage();
}
