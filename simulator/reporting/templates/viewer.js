// Opens a screenshot at full size (from the page's own store of images), expands and collapses scenarios.
(function () {
  "use strict";
  var storeElement = document.getElementById("full-images");
  var store = storeElement ? JSON.parse(storeElement.textContent) : {};
  // The failures' screens are drawn wide: their full image, which the store holds once.
  document.querySelectorAll("img[data-wide]").forEach(function (wide) {
    var full = store[wide.getAttribute("data-full")];
    if (full) { wide.src = full; }
  });
  var viewer = document.getElementById("viewer");
  if (!viewer) { return; }
  var image = viewer.querySelector("img");
  var caption = viewer.querySelector(".viewer-caption");
  function close() { viewer.hidden = true; image.removeAttribute("src"); }
  document.addEventListener("click", function (event) {
    var target = event.target;
    var picture = target.closest ? target.closest("img[data-full]") : null;
    if (picture) {
      event.preventDefault();
      image.src = store[picture.getAttribute("data-full")] || picture.src;
      caption.textContent = picture.getAttribute("alt") || "";
      viewer.hidden = false;
      return;
    }
    if (!viewer.hidden && (target === viewer || target.closest(".viewer-close"))) { close(); return; }
    var toggle = target.closest ? target.closest("[data-open]") : null;
    if (toggle) {
      var open = toggle.getAttribute("data-open") === "all";
      var only = toggle.getAttribute("data-open") === "failed";
      document.querySelectorAll("details.scenario").forEach(function (d) {
        d.open = only ? d.classList.contains("failed") : open;
      });
    }
  });
  document.addEventListener("keydown", function (event) { if (event.key === "Escape") { close(); } });
}());
