"""Tag names: one normal form, so "Cat", " cat " and "CAT" are one tag.

Trimmed, inner whitespace collapsed to one space, case-folded (Latin, Greek, Cyrillic...);
scripts without case, Chinese included, are kept as typed. Control characters and names
longer than TAG_MAX_LENGTH are refused, not mangled.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

TAG_MAX_LENGTH = 50


def normalise_tag(raw: str) -> str:
    """The stored form of a tag name; ValidationError when it cannot be a tag."""
    if any(
        unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in raw if ch not in " \t"
    ):
        raise ValidationError(_("A tag cannot hold control characters."), code="control")
    name = " ".join(unicodedata.normalize("NFC", raw).split()).casefold()
    if not name:
        raise ValidationError(_("A tag cannot be empty."), code="empty")
    if len(name) > TAG_MAX_LENGTH:
        raise ValidationError(
            _("A tag is at most %(max)d characters.") % {"max": TAG_MAX_LENGTH}, code="length"
        )
    return name
