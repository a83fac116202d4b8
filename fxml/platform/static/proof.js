// 憑證證明單: [列印] prints the sheet (the print style hides the frame).
// For an EOI customer (the manual's step 9) [列印] first faxes the sheet to the
// 申辦分行: the platform sends its fields and its PDF to the bank, which files it
// in the branch's inbox; the page says where and when it arrived, then prints.
const button = document.getElementById("print");
// The page's words (fxml.web.labels.SCRIPT_WORDS), from the JSON block the page embeds.
const WORDS = JSON.parse(document.getElementById("fxml-words").textContent);
const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const meta = (name) => {
  const tag = document.querySelector(`meta[name="${name}"]`);
  return tag ? tag.content : "";
};

async function fax(url) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": meta("csrf-token") },
      body: "{}",
    });
  } catch (error) {
    // The browser's own words ("Failed to fetch") are no message for a customer.
    throw Object.assign(new Error(WORDS.FAX_UNREACHABLE),
      { code: "PLATFORM_UNREACHABLE" });
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = data.error || { code: "FAX_FAILED", message: WORDS.FAX_FAILED };
    throw Object.assign(new Error(error.message), { code: error.code });
  }
  return data.fax;
}

if (button) {
  button.addEventListener("click", async () => {
    const url = button.dataset.faxUrl;
    if (!url) {
      window.print();
      return;
    }
    button.disabled = true;
    const problem = $("proof-fax-error");
    problem.hidden = true;
    try {
      const sent = await fax(url);
      $("proof-fax-sent").textContent = sent.message;
      $("proof-fax-sent").dataset.faxId = sent.fax_id;
      $("proof-fax-next").textContent = sent.next;
      $("proof-fax").hidden = false;
      window.print();
    } catch (error) {
      problem.textContent = error.message;
      problem.dataset.code = error.code || "";
      problem.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
}
