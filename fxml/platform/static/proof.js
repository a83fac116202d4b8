// 憑證證明單: [列印] prints the sheet (the print style hides the frame).
const button = document.getElementById("print");
if (button) {
  button.addEventListener("click", () => window.print());
}
