// 憑證暫禁 in the browser: [暫禁] asks first, in the page's own window (a <dialog> in the bank's
// style, as the renewal's prompt), naming the certificate chosen; [確定] sends the form to the
// platform, which asks the CA; [取消] (or Esc) sends nothing and says so.

import { ask } from "/assets/dialog.js";

// The page's words (fxml.web.labels.SCRIPT_WORDS), from the JSON block the page embeds.
const WORDS = JSON.parse(document.getElementById("fxml-words").textContent);
const form = document.getElementById("suspend-form");
const button = document.getElementById("suspend");
const dialog = document.getElementById("prompt");
const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

function say(id, text) {
  const box = $(id);
  box.textContent = text || "";
  box.hidden = !text;
}

if (button) {
  button.addEventListener("click", async () => {
    say("suspend-error", "");
    say("suspend-cancelled", "");
    const chosen = form.querySelector('input[name="serial"]:checked');
    if (!chosen) {
      say("suspend-error", WORDS.SUSPEND_NOT_SELECTED);
      return;
    }
    $("suspend-prompt-text").textContent = WORDS.SUSPEND_PROMPT
      .replace("{cn}", chosen.dataset.cn).replace("{serial}", chosen.value);
    if (await ask(dialog)) {
      button.disabled = true;
      form.submit();
    } else {
      say("suspend-cancelled", WORDS.SUSPEND_CANCELLED);
    }
  });
}
