// An image's Tags field: suggestions from the tags that exist as you type (arrow keys move,
// Enter picks and adds, Escape closes), and error answers (400) swapped in like any other.
(() => {
  "use strict";
  let timer = null;
  let lastAsked = "";

  const box = () => document.getElementById("image-tags");
  const input = () => document.getElementById("id_tag_name");
  const list = () => document.getElementById("tag-suggestions");
  const options = () => Array.from(list()?.querySelectorAll('[role="option"]') || []);

  function close() {
    const l = list();
    const i = input();
    if (!l || !i) return;
    l.hidden = true;
    l.innerHTML = "";
    i.setAttribute("aria-expanded", "false");
    i.removeAttribute("aria-activedescendant");
  }

  function setActive(index) {
    const all = options();
    all.forEach((option, n) => {
      option.setAttribute("aria-selected", n === index ? "true" : "false");
      option.classList.toggle("active", n === index);
    });
    if (all[index]) input().setAttribute("aria-activedescendant", all[index].id);
    else input().removeAttribute("aria-activedescendant");
  }

  function activeIndex() {
    return options().findIndex((option) => option.getAttribute("aria-selected") === "true");
  }

  // The part after the last comma: "sea, sun" suggests for "sun".
  function typed(value) {
    const parts = value.split(",");
    return parts[parts.length - 1].trim();
  }

  async function suggest() {
    const i = input();
    const l = list();
    if (!i || !l) return;
    const prefix = typed(i.value);
    if (!prefix) { close(); return; }
    lastAsked = prefix;
    const response = await fetch(`${i.dataset.suggest}?name=${encodeURIComponent(prefix)}`, {
      headers: { "HX-Request": "true" }, credentials: "same-origin",
    });
    if (prefix !== lastAsked) return; // a later keystroke asked again
    if (!response.ok) { close(); return; }
    l.innerHTML = await response.text(); // server-rendered and escaped
    const any = options().length > 0;
    l.hidden = !any;
    i.setAttribute("aria-expanded", any ? "true" : "false");
  }

  function pick(option) {
    const i = input();
    const parts = i.value.split(",");
    parts[parts.length - 1] = option.dataset.value;
    i.value = parts.map((part) => part.trim()).filter(Boolean).join(", ");
    close();
    i.form.requestSubmit();
  }

  document.addEventListener("input", (event) => {
    if (event.target.id !== "id_tag_name") return;
    clearTimeout(timer);
    timer = setTimeout(suggest, 150);
  });

  document.addEventListener("keydown", (event) => {
    if (event.target.id !== "id_tag_name") return;
    const all = options();
    const open = !list().hidden && all.length > 0;
    if (event.key === "ArrowDown" && open) {
      event.preventDefault();
      setActive((activeIndex() + 1) % all.length);
    } else if (event.key === "ArrowUp" && open) {
      event.preventDefault();
      setActive((activeIndex() - 1 + all.length) % all.length);
    } else if (event.key === "Enter" && open && activeIndex() >= 0) {
      event.preventDefault();
      pick(all[activeIndex()]);
    } else if (event.key === "Escape") {
      event.preventDefault();
      if (open) close();
      else event.target.value = "";
    }
  });

  document.addEventListener("mousedown", (event) => {
    const option = event.target.closest("#tag-suggestions [role=option]");
    if (!option) return;
    event.preventDefault(); // keep the focus in the field
    pick(option);
  });

  document.addEventListener("focusout", (event) => {
    if (event.target.id === "id_tag_name") setTimeout(close, 100);
  });

  // A refused tag answers 400 with the field and its error: show it like a success.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (event.detail.xhr.status === 400 && target && target.id === "image-tags") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // After adding or removing, keep the keyboard where it was: in the Tags field.
  let focusTags = false;
  document.addEventListener("htmx:beforeRequest", (event) => {
    focusTags = !!(box() && box().contains(event.detail.elt));
  });
  document.addEventListener("htmx:afterSettle", (event) => {
    if (focusTags && event.detail.target && event.detail.target.id === "image-tags") {
      focusTags = false;
      input()?.focus();
    }
  });
})();
