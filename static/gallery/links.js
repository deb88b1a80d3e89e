// My links: a revoked row's Undo goes away when the server would refuse it anyway.
(() => {
  "use strict";
  function arm(root) {
    root.querySelectorAll("form.undo[data-undo-seconds]:not([data-armed])").forEach((form) => {
      form.dataset.armed = "1";
      const seconds = Number(form.dataset.undoSeconds) || 10;
      setTimeout(() => form.remove(), seconds * 1000);
    });
  }
  document.addEventListener("DOMContentLoaded", () => arm(document));
  document.addEventListener("htmx:afterSwap", (event) => arm(event.target.parentElement || document));
})();
