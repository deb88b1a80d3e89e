// Size presets: one click fills the Size field; the field stays the single source of truth.
document.addEventListener("DOMContentLoaded", () => {
  const input = document.getElementById("id_size");
  const presets = document.querySelectorAll(".preset[data-size]");
  if (!input) return;
  const mark = () => presets.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.size === input.value.trim())));
  presets.forEach((button) => button.addEventListener("click", () => { input.value = button.dataset.size; mark(); }));
  input.addEventListener("input", mark);
  mark();
});
