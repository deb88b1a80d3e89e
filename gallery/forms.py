"""Forms. The generate form checks each field with the shared Seedream contract, so the form,
the JSON API and the gateway reject the same things the same way."""

from __future__ import annotations

from datetime import datetime
from math import gcd

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.utils.translation import gettext_lazy as _

from gallery import search
from gallery.models import Generation, Visibility
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
    visibility = forms.ChoiceField(
        label=_("Visibility"),
        choices=Visibility.choices,
        required=False,  # absent (an older form, a script): the gallery's default
        help_text=_("Private: only you and staff. Team: every member. Public: may be shown."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        models = settings.SEEDREAM_ALLOWED_MODELS
        self.fields["model"].choices = [(m, m) for m in models]
        self.fields["model"].initial = settings.SEEDREAM_MODEL
        self.fields["visibility"].initial = settings.GALLERY_DEFAULT_VISIBILITY
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
        "visibility": generation.visibility,
    }
    if generation.model in settings.SEEDREAM_ALLOWED_MODELS:
        initial["model"] = generation.model
    if with_prompt:
        initial["prompt"] = generation.prompt
        if not generation.seed_was_random:
            initial["seed"] = str(generation.seed)
    return initial


MAX_TAG_FILTERS = 10


class TagListField(forms.Field):
    """Repeated `tag=` values: each normalised, empty ones ignored, duplicates dropped."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> tuple[str, ...]:
        from gallery.tags import normalise_tag

        raw = [v for v in (value or []) if isinstance(v, str) and v.strip()]
        names: list[str] = []
        for item in raw:
            name = normalise_tag(item)
            if name not in names:
                names.append(name)
        if len(names) > MAX_TAG_FILTERS:
            raise forms.ValidationError(
                _("Filter by at most %(max)d tags.") % {"max": MAX_TAG_FILTERS}
            )
        return tuple(names)


class GalleryFilterForm(forms.Form):
    """The gallery's query string: every filter, the sort, the page size and the cursor.

    Each value is checked, so a malformed or forged one answers 400 with a reason, never 500.
    """

    q = forms.CharField(label=_("Search"), required=False, max_length=search.MAX_QUERY_CHARS)
    who = forms.ChoiceField(
        label=_("Whose"),
        required=False,
        choices=[("", _("Everyone")), ("mine", _("Mine"))],
    )
    member = forms.CharField(label=_("Member"), required=False, max_length=150)
    model = forms.CharField(label=_("Model"), required=False, max_length=100)
    orientation = forms.ChoiceField(
        label=_("Orientation"),
        required=False,
        choices=[
            ("", _("Any shape")),
            ("landscape", _("Landscape")),
            ("portrait", _("Portrait")),
            ("square", _("Square")),
        ],
    )
    size = forms.CharField(label=_("Size"), required=False, max_length=11)
    date_from = forms.DateField(label=_("From"), required=False)
    date_to = forms.DateField(label=_("To"), required=False)
    fav = forms.BooleanField(label=_("Favourites only"), required=False)
    watermark = forms.ChoiceField(
        label=_("Watermark"),
        required=False,
        choices=[("", _("Either")), ("on", _("With watermark")), ("off", _("Without"))],
    )
    sort = forms.ChoiceField(
        label=_("Sort"),
        required=False,
        choices=[
            ("newest", _("Newest first")),
            ("oldest", _("Oldest first")),
            ("added", _("Recently added")),
        ],
    )
    tag = TagListField(label=_("Tag"), required=False)
    collection = forms.IntegerField(label=_("Collection"), required=False, min_value=1)
    view = forms.ChoiceField(
        label=_("Show"),
        required=False,
        choices=[("", _("Batches stacked")), ("flat", _("Every image"))],
    )
    per_page = forms.IntegerField(label=_("Per page"), required=False)
    after = forms.CharField(required=False, max_length=200)
    before = forms.CharField(required=False, max_length=200)

    FILTER_NAMES = ("q", "who", "member", "model", "orientation", "size", "date_from",
                    "date_to", "fav", "watermark", "sort", "view", "tag", "collection")  # fmt: skip
    MULTIPLE = ("tag",)

    def __init__(self, data, *, user=None, **kwargs):
        super().__init__(data, **kwargs)
        self.user = user
        if not self.data.get("collection"):  # "Recently added" is a collection's order
            self.fields["sort"].choices = self.fields["sort"].choices[:2]
        self.fields["model"].widget = forms.Select(
            choices=[("", _("Any model"))] + [(m, contract.model_label(m)) for m in known_models()]
        )

    def clean_q(self) -> str:
        return " ".join(self.cleaned_data["q"].split())

    def clean_member(self) -> str:
        name = self.cleaned_data["member"].strip()
        if name and not get_user_model().objects.filter(username=name).exists():
            raise forms.ValidationError(_("There is no member called %(name)s.") % {"name": name})
        return name

    def clean_model(self) -> str:
        model = self.cleaned_data["model"]
        if model and model not in known_models():
            raise forms.ValidationError(_("Unknown model."))
        return model

    def clean_size(self) -> tuple[int, int] | None:
        raw = self.cleaned_data["size"].strip()
        if not raw:
            return None
        try:
            width, height = contract.parse_size(raw)
        except contract.ParameterError:
            raise forms.ValidationError(_("Size must look like 1024x768.")) from None
        return width, height

    def clean_tag(self) -> tuple[str, ...]:
        from taggit.models import Tag

        names = self.cleaned_data["tag"]
        self.tag_ids = None
        if names:
            found = dict(Tag.objects.filter(name__in=names).values_list("name", "id"))
            self.tag_ids = tuple(found[name] for name in names if name in found)
        return names

    def clean_collection(self) -> int | None:
        from gallery.queries import collections_visible_to

        pk = self.cleaned_data["collection"]
        self.collection_object = None
        if pk is None:
            return None
        self.collection_object = collections_visible_to(self.user).filter(pk=pk).first()
        if self.collection_object is None:
            raise forms.ValidationError(_("There is no such collection."))
        return pk

    def clean_per_page(self) -> int:
        value = self.cleaned_data["per_page"]
        if value is None:
            return DEFAULT_PER_PAGE
        if not 1 <= value <= MAX_PER_PAGE:
            raise forms.ValidationError(
                _("Per page must be between 1 and %(max)s.") % {"max": MAX_PER_PAGE}
            )
        return value

    def clean_after(self):
        return _cursor_field(self.cleaned_data["after"])

    def clean_before(self):
        return _cursor_field(self.cleaned_data["before"])

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date comes before the start date."))
        if data.get("after") and data.get("before"):
            raise forms.ValidationError(_("Give either an older or a newer page, not both."))
        return data

    def filters(self):
        from gallery.queries import GalleryFilters

        data = self.cleaned_data
        return GalleryFilters(
            q=data["q"],
            mine=data["who"] == "mine",
            member=data["member"],
            model=data["model"],
            orientation=data["orientation"],
            size=data["size"],
            date_from=data["date_from"],
            date_to=data["date_to"],
            favourites=data["fav"],
            watermark={"on": True, "off": False}.get(data["watermark"]),
            sort=data["sort"] or "newest",
            flat=data["view"] == "flat",
            tags=data["tag"],
            tag_ids=self.tag_ids,
            collection=data["collection"],
        )

    def pairs(self, *, skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
        """The view's filters as query-string pairs (repeated tags included), without paging."""
        pairs = []
        for name in self.FILTER_NAMES:
            if name in skip:
                continue
            values = self.data.getlist(name) if hasattr(self.data, "getlist") else []
            if not hasattr(self.data, "getlist"):
                values = [self.data.get(name)]
            if name not in self.MULTIPLE:
                values = values[-1:]
            pairs.extend((name, v) for v in values if v not in (None, ""))
        return pairs


DEFAULT_PER_PAGE = 48
MAX_PER_PAGE = 100
_CURSOR_SALT = "gallery.cursor"


def known_models() -> list[str]:
    return list(dict.fromkeys([*settings.SEEDREAM_ALLOWED_MODELS, settings.SEEDREAM_MODEL]))


def encode_cursor(cursor) -> str:
    """A signed, URL-safe token for a position in the gallery (see queries.Cursor)."""
    return signing.dumps([cursor.created_at.isoformat(), cursor.id], salt=_CURSOR_SALT)


def decode_cursor(raw: str):
    """The position a token from encode_cursor names; None when it is not one of ours."""
    from gallery.queries import Cursor

    try:
        stamp, pk = signing.loads(raw, salt=_CURSOR_SALT)
        cursor = Cursor(datetime.fromisoformat(stamp), int(pk))
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return cursor if cursor.created_at.tzinfo is not None else None


def _cursor_field(raw: str):
    if not raw:
        return None
    cursor = decode_cursor(raw)
    if cursor is None:
        raise forms.ValidationError(
            _("That page link is damaged; start again from the newest images.")
        )
    return cursor
