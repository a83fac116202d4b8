// The platform's own windows (頁面跳出提示訊息, 網頁視窗 [確定]): a <dialog class="page-dialog"> in the
// bank's style, not the browser's confirm() and alert(), so that it can be seen and captured like
// the rest of the page. Used by 憑證更新 (renewal.js) and 憑證暫禁 (suspend.js).

// Shows the <dialog> modally and resolves with true for its [確定], false for [取消] or Esc.
export function ask(dialog) {
  return new Promise((resolve) => {
    const buttons = Array.from(dialog.querySelectorAll("button[value]"));
    const answer = (value) => {
      buttons.forEach((button) => { button.onclick = null; });
      dialog.onclose = null;
      if (dialog.open) {
        dialog.close();
      }
      resolve(value === "ok");
    };
    buttons.forEach((button) => { button.onclick = () => answer(button.value); });
    dialog.onclose = () => answer("cancel");
    dialog.showModal();
    const ok = buttons.find((button) => button.value === "ok");
    if (ok) {
      ok.focus();
    }
  });
}
