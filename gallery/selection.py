"""A bulk request from the grid: which action, on which images, with what. Parsing only: the
view resolves the ids through the selectors and the services apply the change."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gallery.models import Visibility
from gallery.tags import normalise_tag

# Actions that change the images themselves: only their author or staff may (403 otherwise).
CHANGING_ACTIONS = ("tag", "untag", "visibility", "delete")
# Actions that only need the images to be visible (the collection has its own rule).
VIEWING_ACTIONS = ("collect", "uncollect", "download")
ID_MAX = 2**63 - 1
TAGS_MAX = 20


class BulkActionForm(forms.Form):
    """`action` and `ids` (repeated fields, or one comma-separated list), plus `tags` for
    tag/untag, `collection` for collect/uncollect and `visibility` for visibility."""

    action = forms.ChoiceField(
        choices=[
            ("tag", gettext_lazy("Tag")),
            ("untag", gettext_lazy("Untag")),
            ("collect", gettext_lazy("Add to collection")),
            ("uncollect", gettext_lazy("Remove from collection")),
            ("visibility", gettext_lazy("Change visibility")),
            ("delete", gettext_lazy("Delete")),
            ("download", gettext_lazy("Download ZIP")),
        ],
        error_messages={"invalid_choice": gettext_lazy("“%(value)s” is not a bulk action.")},
    )
    tags = forms.CharField(required=False, max_length=2000)
    collection = forms.IntegerField(required=False, min_value=1, max_value=ID_MAX)
    visibility = forms.ChoiceField(
        required=False,
        choices=[("", "")] + list(Visibility.choices),
        error_messages={"invalid_choice": gettext_lazy("“%(value)s” is not a visibility.")},
    )

    def __init__(self, data, **kwargs):
        super().__init__(data, **kwargs)
        self.raw_ids = data.getlist("ids") if hasattr(data, "getlist") else data.get("ids", [])

    def clean(self):
        data = super().clean()
        data["ids"] = self._clean_ids()
        action = data.get("action")
        if action in ("tag", "untag"):
            data["tag_names"] = self._clean_tags(data.get("tags") or "")
        if action in ("collect", "uncollect") and not data.get("collection"):
            self.add_error("collection", _("Choose a collection."))
        if action == "visibility" and not data.get("visibility"):
            self.add_error("visibility", _("Choose Private, Team or Public."))
        return data

    def _clean_ids(self) -> list[int]:
        parts = [part.strip() for raw in self.raw_ids for part in str(raw).split(",")]
        parts = [part for part in parts if part]
        maximum = settings.GALLERY_BULK_MAX_IDS
        if not parts:
            raise ValidationError(_("Select at least one image."), code="empty")
        if len(parts) > maximum:
            raise ValidationError(
                _("At most %(max)d images at once; this request lists %(n)d.")
                % {"max": maximum, "n": len(parts)},
                code="too_many",
            )
        ids: list[int] = []
        seen: set[int] = set()
        for part in parts:
            if not part.isascii() or not part.isdigit() or not 1 <= int(part) <= ID_MAX:
                raise ValidationError(
                    _("“%(value)s” is not an image id.") % {"value": part[:40]}, code="invalid"
                )
            value = int(part)
            if value in seen:
                raise ValidationError(
                    _("Image %(id)d is listed twice.") % {"id": value}, code="duplicate"
                )
            seen.add(value)
            ids.append(value)
        return ids

    def _clean_tags(self, raw: str) -> list[str]:
        names: list[str] = []
        for part in raw.split(","):
            if not part.strip():
                continue
            try:
                name = normalise_tag(part)
            except ValidationError as exc:
                self.add_error("tags", f"“{part.strip()[:60]}”: {exc.messages[0]}")
                return []
            if name not in names:
                names.append(name)
        if not names:
            self.add_error("tags", _("Type at least one tag."))
        elif len(names) > TAGS_MAX:
            self.add_error("tags", _("At most %(max)d tags at once.") % {"max": TAGS_MAX})
        return names

    def first_error(self) -> str:
        """The first problem, in one sentence the selection bar can show."""
        for messages in self.errors.values():
            return str(messages[0])
        return ""
