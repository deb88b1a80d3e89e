"""Forms. The generate form checks each field with the shared Seedream contract, so the form,
the JSON API and the gateway reject the same things the same way."""

from __future__ import annotations

from django import forms
from django.conf import settings

from gallery.seedream import contract


class GenerationForm(forms.Form):
    prompt = forms.CharField(
        label="Prompt",
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "A porcelain fox in morning fog…"}),
        max_length=contract.PROMPT_MAX_CHARS,
        help_text="Chinese or English.",
    )
    size = forms.CharField(
        label="Size",
        initial=contract.DEFAULT_SIZE,
        max_length=11,
        help_text="WIDTHxHEIGHT; each side 512–2048, at most 3:1.",
    )
    seed = forms.CharField(
        label="Seed",
        required=False,
        help_text="Empty or -1 for a random seed.",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "random"}),
    )
    guidance_scale = forms.FloatField(
        label="Guidance scale",
        initial=contract.GUIDANCE_DEFAULT,
        widget=forms.NumberInput(
            attrs={"step": "0.1", "min": contract.GUIDANCE_MIN, "max": contract.GUIDANCE_MAX}
        ),
        help_text="1–10: higher follows the prompt more literally.",
    )
    watermark = forms.BooleanField(
        label="Watermark", required=False, help_text="Stamp a visible “AI generated” mark."
    )
    model = forms.ChoiceField(label="Model")
    variations = forms.IntegerField(label="Variations", initial=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        models = settings.SEEDREAM_ALLOWED_MODELS
        self.fields["model"].choices = [(m, m) for m in models]
        self.fields["model"].initial = settings.SEEDREAM_MODEL
        maximum = settings.GENERATION_MAX_VARIATIONS
        self.fields["variations"].widget.attrs.update(min=1, max=maximum)
        self.fields["variations"].help_text = f"1–{maximum} images, each with its own seed."

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
        raise forms.ValidationError(_sentence(exc.message)) from None


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]
