"""Forms. The generate form checks each field with the shared Seedream contract, so the form,
the JSON API and the gateway reject the same things the same way."""

from __future__ import annotations

from math import gcd

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from gallery.models import Generation
from gallery.seedream import contract

# Ratios people know by name; 7:3 is what screens and films call 21:9.
RATIO_NAMES = {"7:3": "21:9", "3:7": "9:21"}


class GenerationForm(forms.Form):
    prompt = forms.CharField(
        label=_("Prompt"),
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "A porcelain fox in morning fog…"}),
        max_length=contract.PROMPT_MAX_CHARS,
        help_text=_("Chinese or English."),
    )
    size = forms.CharField(
        label=_("Size"),
        initial=contract.DEFAULT_SIZE,
        max_length=11,
        help_text=_("WIDTHxHEIGHT; each side 512–2048, at most 3:1."),
    )
    seed = forms.CharField(
        label=_("Seed"),
        required=False,
        help_text=_("Empty or -1 for a random seed."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "random"}),
    )
    guidance_scale = forms.FloatField(
        label=_("Guidance scale"),
        initial=contract.GUIDANCE_DEFAULT,
        widget=forms.NumberInput(
            attrs={"step": "0.1", "min": contract.GUIDANCE_MIN, "max": contract.GUIDANCE_MAX}
        ),
        help_text=_("1–10: higher follows the prompt more literally."),
    )
    watermark = forms.BooleanField(
        label=_("Watermark"), required=False, help_text=_("Stamp a visible “AI generated” mark.")
    )
    model = forms.ChoiceField(label=_("Model"))
    variations = forms.IntegerField(label=_("Variations"), initial=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        models = settings.SEEDREAM_ALLOWED_MODELS
        self.fields["model"].choices = [(m, m) for m in models]
        self.fields["model"].initial = settings.SEEDREAM_MODEL
        maximum = settings.GENERATION_MAX_VARIATIONS
        self.fields["variations"].widget.attrs.update(min=1, max=maximum)
        self.fields["variations"].help_text = _("1–%(max)d images, each with its own seed.") % {
            "max": maximum
        }

    def full_clean(self) -> None:
        super().full_clean()
        self._mark_invalid_fields()

    def _mark_invalid_fields(self) -> None:
        """Invalid fields say so to assistive tech and CSS; the first takes the focus, so the
        page opens at the first thing to fix, with or without JavaScript."""
        first = True
        for name in self.fields:
            if name not in self.errors:
                continue
            field = self.fields[name]
            described_by = f"error_{name}"
            if field.help_text:
                described_by += f" {self[name].auto_id}_helptext"
            field.widget.attrs.update({"aria-invalid": "true", "aria-describedby": described_by})
            if first:
                field.widget.attrs["autofocus"] = True
                first = False

    def error_summary(self) -> list[tuple[str, str, str]]:
        """(field id, label, message) for every error, in the order of the form."""
        summary = [("", "", str(message)) for message in self.non_field_errors()]
        for name, field in self.fields.items():
            for message in self.errors.get(name, []):
                summary.append((self[name].id_for_label, str(field.label), str(message)))
        return summary

    def clean_prompt(self) -> str:
        return _contract_check(contract.validate_prompt, self.cleaned_data["prompt"])

    def clean_size(self) -> str:
        model = self.data.get("model") or settings.SEEDREAM_MODEL
        return _contract_check(contract.validate_size, self.cleaned_data["size"], model)

    def clean_seed(self) -> int | None:
        raw = (self.cleaned_data.get("seed") or "").strip()
        if raw in ("", "-1"):
            return None
        try:
            value = int(raw)
        except ValueError:
            raise forms.ValidationError(
                "Seed must be a whole number, or empty for random."
            ) from None
        if not 0 <= value <= contract.SEED_MAX:
            raise forms.ValidationError(f"Seed must be between 0 and {contract.SEED_MAX}, or -1.")
        return value

    def clean_guidance_scale(self) -> float:
        return _contract_check(
            contract.validate_guidance_scale, self.cleaned_data["guidance_scale"]
        )

    def clean_variations(self) -> int:
        value = self.cleaned_data["variations"]
        maximum = settings.GENERATION_MAX_VARIATIONS
        if not 1 <= value <= maximum:
            raise forms.ValidationError(f"Variations must be between 1 and {maximum}.")
        return value

    def params(self) -> contract.GenerationParams:
        data = self.cleaned_data
        return contract.GenerationParams(
            prompt=data["prompt"],
            model=data["model"],
            size=data["size"],
            seed=data["seed"],
            guidance_scale=data["guidance_scale"],
            watermark=data["watermark"],
        )


def _contract_check(validator, *args):
    try:
        return validator(*args)
    except contract.ParameterError as exc:
        # The contract names the API parameter ("guidance_scale"); a person reads its label.
        message = exc.message
        if message.startswith(exc.param):
            message = exc.param.replace("_", " ") + message[len(exc.param) :]
        raise forms.ValidationError(_sentence(message)) from None


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


def ratio_name(width: int, height: int) -> str:
    """The named aspect ratio of a size: 1024x1024 is 1:1, 1512x648 is 21:9."""
    divisor = gcd(width, height)
    ratio = f"{width // divisor}:{height // divisor}"
    return RATIO_NAMES.get(ratio, ratio)


def settings_of(generation: Generation, *, variations: int, with_prompt: bool) -> dict:
    """The form's initial values that make the same request again."""
    initial = {
        "size": generation.size,
        "guidance_scale": generation.guidance_scale,
        "watermark": generation.watermark,
        "variations": min(max(1, variations), settings.GENERATION_MAX_VARIATIONS),
    }
    if generation.model in settings.SEEDREAM_ALLOWED_MODELS:
        initial["model"] = generation.model
    if with_prompt:
        initial["prompt"] = generation.prompt
        if not generation.seed_was_random:
            initial["seed"] = str(generation.seed)
    return initial
