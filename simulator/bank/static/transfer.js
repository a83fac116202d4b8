// 臺幣轉帳: the customer signs the transfer on the card, through the local card agent.
//
// The bank's page holds the exact bytes to sign (data-to-sign, base64). The page
// lists the certificates of the inserted card (the newest chosen), gives the
// 憑證載具密碼 to the agent only (never to the bank), has the card sign the bytes
// (PKCS#1 v1.5, SHA-256), ends the card session, and sends the bank the
// signature and the signing certificate. The bank verifies everything.

import { AgentError, createAgent } from "/static/agent.js";

// The page's words (fxml.web.labels.SCRIPT_WORDS), from the JSON block the page embeds.
const WORDS = JSON.parse(document.getElementById("fxml-words").textContent);

const root = document.getElementById("transfer");
const meta = (name) => {
  const tag = document.querySelector(`meta[name="${name}"]`);
  return tag ? tag.content : "";
};
const agent = createAgent(meta("fxml-agent") || undefined);
const $ = (id) => root.querySelector(`[data-testid="${id}"]`);
const picker = root.querySelector("#certificate");

function showError(message, code) {
  const box = $("transfer-error");
  box.textContent = message;
  box.dataset.code = code || "";
  box.hidden = false;
}

function agentMissing(error) {
  if (error instanceof AgentError && error.code === "AGENT_UNREACHABLE") {
    $("agent-missing").hidden = false;
    return true;
  }
  return false;
}

function fromBase64(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) {
    bytes[i] = raw.charCodeAt(i);
  }
  return bytes;
}

// Every certificate of every inserted card, newest first.
async function listCertificates() {
  const readers = await agent.readers();
  const found = [];
  for (const reader of readers) {
    if (!reader.present || !reader.card) {
      continue;
    }
    for (const cert of reader.card.certificates || []) {
      found.push({ reader: reader.name, container: cert.container, cert });
    }
  }
  // Newest first: the later validity start, and on a tie (a frozen clock) the later end,
  // which a renewal always has.
  found.sort((a, b) => String(b.cert.not_before).localeCompare(String(a.cert.not_before))
    || String(b.cert.not_after).localeCompare(String(a.cert.not_after)));
  return found;
}

async function showCertificates() {
  try {
    const found = await listCertificates();
    picker.replaceChildren();
    if (found.length === 0) {
      picker.append(new Option(WORDS.INSERT_CARD, ""));
      return;
    }
    for (const item of found) {
      const until = String(item.cert.not_after).slice(0, 10);
      const label = WORDS.CERTIFICATE_OPTION.replace("{cn}", item.cert.common_name)
        .replace("{serial}", item.cert.serial).replace("{until}", until);
      const option = new Option(label, JSON.stringify({ reader: item.reader, container: item.container }));
      option.dataset.serial = item.cert.serial;
      picker.append(option);
    }
    picker.selectedIndex = 0;
  } catch (error) {
    if (!agentMissing(error)) {
      showError(error.message, error.code);
    }
  }
}

async function sendToBank(body) {
  const response = await fetch(root.dataset.signUrl, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", "x-csrf-token": meta("csrf-token") },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = data.error || { code: "BANK_ERROR", message: WORDS.BANK_ERROR };
    throw new AgentError(error.code, error.message, response.status);
  }
  return data.transfer;
}

const button = root.querySelector("#sign");
button.addEventListener("click", async () => {
  button.disabled = true;
  $("transfer-error").hidden = true;
  const pinBox = root.querySelector("#pin");
  const pin = pinBox.value;
  pinBox.value = ""; // the PIN is forgotten at once, whatever the card says
  try {
    if (!picker.value) {
      throw new AgentError("NO_CARD", WORDS.NO_CARD);
    }
    if (!pin) {
      throw new AgentError("PIN_MISSING", WORDS.PIN_MISSING);
    }
    const { reader, container } = JSON.parse(picker.value);
    const session = await agent.openSession(reader, pin);
    let signed;
    try {
      signed = await agent.sign(session.session, fromBase64(root.dataset.toSign), container);
    } finally {
      await agent.closeSession(session.session).catch(() => {});
    }
    const done = await sendToBank({
      transfer_id: root.dataset.transfer,
      signature: signed.signature,
      certificate: signed.certificate,
    });
    window.location.assign(done.url);
  } catch (error) {
    if (!agentMissing(error)) {
      showError(error.message, error.code);
    }
    button.disabled = false;
  }
});

showCertificates();
agent.events((event) => {
  if (event.type === "card_inserted" || event.type === "card_removed") {
    showCertificates();
  }
}, () => {});
