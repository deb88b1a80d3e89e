// The generate form: size presets, a random seed, the guidance slider, Ctrl/Cmd+Enter and the
// quota warning. The fields stay the single source of truth; the page works without this.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form.generate-form");
  if (!form) return;

  const size = document.getElementById("id_size");
  const presets = form.querySelectorAll(".preset[data-size]");
  const mark = () => presets.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.size === size.value.trim())));
  presets.forEach((button) => button.addEventListener("click", () => { size.value = button.dataset.size; mark(); }));
  size.addEventListener("input", mark);
  mark();

  const seed = document.getElementById("id_seed");
  const dice = form.querySelector(".random-seed");
  if (seed && dice) {
    dice.hidden = false;
    dice.addEventListener("click", () => {
      const max = Number(dice.dataset.seedMax);
      const draw = new Uint32Array(1);
      crypto.getRandomValues(draw);
      seed.value = String(draw[0] % (max + 1));
      seed.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }

  const guidance = document.getElementById("id_guidance_scale");
  const slider = form.querySelector(".guidance-slider");
  if (guidance && slider) {
    slider.hidden = false;
    slider.addEventListener("input", () => { guidance.value = slider.value; });
    guidance.addEventListener("input", () => {
      const value = Number(guidance.value);
      if (guidance.value !== "" && Number.isFinite(value)) slider.value = String(value);
    });
  }

  const variations = document.getElementById("id_variations");
  const warning = document.getElementById("quota-warning");
  const left = Number(form.dataset.imagesLeft);
  if (variations && warning) {
    variations.addEventListener("input", () => { warning.hidden = !(Number(variations.value) > left); });
  }

  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
});
