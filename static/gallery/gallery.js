// The gallery's lightbox: open a tile large without leaving the grid, step with the arrow
// keys, close with Escape. The URL's #image-<id> makes a reload or a pasted link reopen it.
(() => {
  "use strict";
  const HASH = /^#image-([0-9a-f]+)$/;  // a database id, or a content hash on public pages
  let current = null;

  function dialog() { return document.getElementById("lightbox"); }
  function tiles() { return Array.from(document.querySelectorAll("#grid a.tile[data-lightbox]")); }
  function tileFor(id) { return document.querySelector(`#grid a.tile[data-id="${CSS.escape(id)}"]`); }

  async function show(tile, { push = true } = {}) {
    const box = dialog();
    if (!box || !tile) return;
    current = tile;
    const response = await fetch(tile.dataset.lightbox, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
    if (!response.ok) return;
    box.querySelector(".lb-body").innerHTML = await response.text();
    if (!box.open) box.showModal();
    const url = `${location.pathname}${location.search}#image-${tile.dataset.id}`;
    if (push) history.pushState({ lightbox: tile.dataset.id }, "", url);
    else history.replaceState({ lightbox: tile.dataset.id }, "", url);
  }

  function close({ push = true } = {}) {
    const box = dialog();
    if (box && box.open) box.close();
    current = null;
    if (push && HASH.test(location.hash)) history.pushState({}, "", `${location.pathname}${location.search}`);
  }

  function step(delta) {
    const all = tiles();
    const index = all.indexOf(current);
    const next = all[index + delta];
    if (next) { show(next, { push: false }); next.scrollIntoView({ block: "nearest" }); }
  }

  function openFromHash() {
    const match = HASH.exec(location.hash);
    if (!match) { if (dialog()?.open) close({ push: false }); return; }
    const tile = tileFor(match[1]);
    if (tile) show(tile, { push: false });
  }

  document.addEventListener("click", (event) => {
    const tile = event.target.closest("#grid a.tile[data-lightbox]");
    if (!tile || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    show(tile);
  });

  document.addEventListener("keydown", (event) => {
    const box = dialog();
    if (!box || !box.open) return;
    if (event.key === "ArrowRight") { event.preventDefault(); step(1); }
    else if (event.key === "ArrowLeft") { event.preventDefault(); step(-1); }
  });

  document.addEventListener("DOMContentLoaded", () => {
    const box = dialog();
    if (!box) return;
    box.addEventListener("close", () => { if (current) close(); });
    box.addEventListener("click", (event) => { if (event.target === box) close(); });
    box.querySelector(".lb-close").addEventListener("click", () => close());
    box.querySelector(".lb-prev").addEventListener("click", () => step(-1));
    box.querySelector(".lb-next").addEventListener("click", () => step(1));
    openFromHash();
  });
  window.addEventListener("popstate", openFromHash);
})();
