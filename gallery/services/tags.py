"""Tagging images: set-based, so tagging 500 images costs the same few queries as tagging one.

Contract: the caller has chosen the images from queries.images_changeable_by(actor); the
services check it again with one query and refuse the whole call (PermissionDenied) if any
image is not the actor's to change, so a forged id never tags anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _
from taggit.models import Tag

from gallery import queries
from gallery.models import Image, ImageTag
from gallery.tags import normalise_tag

MAX_TAGS_PER_CALL = 20


def normalise_names(names: Iterable[str]) -> list[str]:
    """Each name in its stored form, duplicates dropped, first spelling's order kept."""
    if isinstance(names, str):
        names = [names]
    normal: list[str] = []
    for raw in names:
        name = normalise_tag(raw)
        if name not in normal:
            normal.append(name)
    if not normal:
        raise ValidationError(_("Give at least one tag."), code="empty")
    if len(normal) > MAX_TAGS_PER_CALL:
        raise ValidationError(
            _("At most %(max)d tags at once.") % {"max": MAX_TAGS_PER_CALL}, code="too_many"
        )
    return normal


def _check_changeable(actor, images: Sequence[Image]) -> list[int]:
    ids = sorted({image.pk for image in images})
    if ids:
        allowed = queries.images_changeable_by(actor).filter(pk__in=ids).count()
        if allowed != len(ids):
            raise PermissionDenied(_("You may only tag your own images."))
    return ids


def _slug(name: str) -> str:
    # Unique without a query per tag: the readable part may be empty (Chinese) or shared
    # ("a b" and "a-b"), the digest of the (unique) name is not.
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    readable = slugify(name, allow_unicode=True)[:80]
    return f"{readable}-{digest}" if readable else digest


def tags_named(names: list[str]) -> list[Tag]:
    """The Tag rows for these (normalised) names, creating the missing ones: at most 3 queries."""
    tags = list(Tag.objects.filter(name__in=names))
    missing = set(names) - {tag.name for tag in tags}
    if missing:
        Tag.objects.bulk_create(
            [Tag(name=name, slug=_slug(name)) for name in sorted(missing)], ignore_conflicts=True
        )
        tags = list(Tag.objects.filter(name__in=names))  # with ids, and any a twin made
    return tags


def add_tags(actor, images: Sequence[Image], names: Iterable[str]) -> list[str]:
    """Tag every image with every name; returns the normalised names. ValidationError for a
    name that cannot be a tag, PermissionDenied when any image is not the actor's to change."""
    normal = normalise_names(names)
    with transaction.atomic():
        ids = _check_changeable(actor, images)
        if not ids:
            return normal
        tags = tags_named(normal)
        ImageTag.objects.bulk_create(
            [ImageTag(content_object_id=pk, tag=tag) for pk in ids for tag in tags],
            ignore_conflicts=True,
        )
    return normal


def remove_tags(actor, images: Sequence[Image], names: Iterable[str]) -> None:
    """Untag the images; tags no image uses any more are deleted so they stop being suggested."""
    normal = normalise_names(names)
    with transaction.atomic():
        ids = _check_changeable(actor, images)
        if not ids:
            return
        ImageTag.objects.filter(content_object_id__in=ids, tag__name__in=normal).delete()
        Tag.objects.filter(name__in=normal, gallery_imagetag_items__isnull=True).delete()
