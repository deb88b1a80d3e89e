// The grid's selection: a checkbox on each tile, shift-click (or shift-Space) for a range,
// "Select all on this page", and the bar's bulk actions. The ids go as one comma-separated
// field; a download is a real form post so the browser streams the ZIP to disk.
(() => {
  "use strict";
  let last = null;  // the checkbox clicked last: a shift-click's range starts there

  function form() { return document.getElementById("bulk-form"); }
  function boxes() { return Array.from(document.querySelectorAll('#grid .tile input[name="ids"]')); }
  function chosen() { return boxes().filter((box) => box.checked).map((box) => box.value); }

  function refresh() {
    const bar = form();
    if (!bar) return;
    const n = chosen().length;
    const all = boxes();
    bar.classList.toggle("has-selection", n > 0);
    const count = bar.querySelector(".sel-count");  // its words come translated from the page
    count.textContent = n === 1 ? count.dataset.one : count.dataset.many.replace("{n}", n);
    bar.querySelector(".sel-none").hidden = n === 0;
    bar.querySelector(".sel-all").disabled = all.length > 0 && n === all.length;
    bar.querySelectorAll(".sel-actions button").forEach((button) => { button.disabled = n === 0; });
  }

  function say(text) {
    const line = form()?.querySelector(".sel-message");
    if (!line) return;
    line.textContent = text;
    line.hidden = !text;
  }

  document.addEventListener("click", (event) => {
    const box = event.target.closest('#grid .tile input[name="ids"]');
    if (!box) return;
    const all = boxes();
    if (event.shiftKey && last && last !== box && all.includes(last)) {
      const [from, to] = [all.indexOf(last), all.indexOf(box)].sort((a, b) => a - b);
      for (const other of all.slice(from, to + 1)) other.checked = box.checked;
    }
    last = box;
    refresh();
  });

  function post(data) {
    // A plain form post: the answer is a page (a redirect back with a message, the ZIP, or
    // the reason it was refused), so the browser handles downloads and history itself.
    const temp = document.createElement("form");
    temp.method = "post";
    temp.action = form().getAttribute("action");  // .action is the buttons named "action"
    temp.hidden = true;
    for (const [name, value] of data.entries()) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      temp.append(input);
    }
    document.body.append(temp);
    temp.submit();
    temp.remove();
  }

  async function submit(bar, action) {
    const ids = chosen();
    if (!ids.length) { say(bar.querySelector(".sel-count").dataset.none); return; }
    const button = bar.querySelector(`button[value="${action}"]`);
    if (button?.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    const data = new FormData(bar);
    data.delete("ids");
    data.set("ids", ids.join(","));
    data.set("action", action);
    if (action === "download") { say(""); post(data); return; }
    say("");
    const response = await fetch(bar.getAttribute("action"), {
      method: "POST", body: data, credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": data.get("csrfmiddlewaretoken") },
    });
    let answer = {};
    try { answer = await response.json(); } catch { answer = { message: `Error ${response.status}` }; }
    if (response.ok && answer.ok) { location.reload(); return; }
    say(answer.message || `Error ${response.status}`);
  }

  document.addEventListener("submit", (event) => {
    const bar = event.target;
    if (bar.id !== "bulk-form") return;
    event.preventDefault();
    const action = event.submitter?.value;
    if (action) submit(bar, action);
  });

  document.addEventListener("DOMContentLoaded", () => {
    const bar = form();
    if (!bar) return;
    bar.classList.add("js-ready");
    bar.querySelector(".sel-all").addEventListener("click", () => {
      boxes().forEach((box) => { box.checked = true; });
      refresh();
    });
    bar.querySelector(".sel-none").addEventListener("click", () => {
      boxes().forEach((box) => { box.checked = false; });
      last = null;
      refresh();
    });
    // Enter in the tags field tags (the form's first button would otherwise decide).
    bar.querySelector("#bulk-tags")?.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); submit(bar, "tag"); }
    });
    refresh();
  });
  // Tiles that infinite scroll brings in start unselected; the count stays right.
  document.addEventListener("htmx:afterSwap", refresh);
})();
