// An image's page: copy buttons, and the arrow keys step to the previous / next image.
(() => {
  "use strict";
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-copy]");
    if (!button) return;
    const status = document.querySelector(".copied");
    try {
      await navigator.clipboard.writeText(button.dataset.copy);
      if (status) status.textContent = `${button.textContent.trim()} ✓`;
    } catch (error) {
      if (status) status.textContent = button.dataset.copy;
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.target.closest("input, textarea, select, [contenteditable]")) return;
    const rel = { ArrowLeft: "prev", ArrowRight: "next" }[event.key];
    const link = rel && document.querySelector(`.stepper a[rel="${rel}"]`);
    if (link) { event.preventDefault(); link.click(); }
  });
})();
