"""Collections (albums): a member's hand-picked groups of images.

A collection belongs to its creator, who alone renames, describes, deletes it, picks its cover
and decides whether the team may add to it. Adding and removing are set-based: a bounded
number of queries however many images, and a single image the actor may not see refuses the
whole call (PermissionDenied), never a silent skip.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gallery import queries
from gallery.models import Collection, CollectionItem, Image

NAME_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 2000
EDITABLE_FIELDS = {"name", "description", "visibility", "team_can_add"}


def clean_name(raw: str) -> str:
    name = " ".join(str(raw).split())
    if _has_control(name):
        raise ValidationError(_("A name cannot hold control characters."), code="control")
    if not name:
        raise ValidationError(_("Give the collection a name."), code="empty")
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(
            _("A name is at most %(max)d characters.") % {"max": NAME_MAX_LENGTH}, code="length"
        )
    return name


def clean_description(raw: str) -> str:
    text = str(raw).strip()
    if _has_control(text.replace("\n", "").replace("\r", "").replace("\t", "")):
        raise ValidationError(_("A description cannot hold control characters."), code="control")
    if len(text) > DESCRIPTION_MAX_LENGTH:
        raise ValidationError(
            _("A description is at most %(max)d characters.") % {"max": DESCRIPTION_MAX_LENGTH},
            code="length",
        )
    return text


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text)


def _clean_visibility(value: str) -> str:
    if value not in Collection.Visibility.values:
        raise ValidationError(_("Choose Private or Team."), code="visibility")
    return value


def _check_owner(actor, collection: Collection) -> None:
    if collection.owner_id != actor.pk:
        raise PermissionDenied(_("Only the collection's creator may change it."))


def create_collection(
    owner, name: str, description: str = "", visibility: str = "team", team_can_add: bool = False
) -> Collection:
    """A new collection of the owner's; ValidationError for a bad name, description or choice."""
    return Collection.objects.create(
        owner=owner,
        name=clean_name(name),
        description=clean_description(description),
        visibility=_clean_visibility(visibility),
        team_can_add=bool(team_can_add),
    )


def update_collection(actor, collection: Collection, **fields) -> Collection:
    """Rename, describe, make private or team, let the team add or not: the creator only."""
    _check_owner(actor, collection)
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    cleaners = {
        "name": clean_name,
        "description": clean_description,
        "visibility": _clean_visibility,
        "team_can_add": bool,
    }
    for field, value in fields.items():
        setattr(collection, field, cleaners[field](value))
    collection.updated_at = timezone.now()
    collection.save(update_fields=[*fields, "updated_at"])
    return collection


def delete_collection(actor, collection: Collection) -> None:
    """Delete the collection; its images stay in the gallery."""
    _check_owner(actor, collection)
    collection.delete()


def _check_addable(actor, collection: Collection) -> None:
    if not queries.collections_addable_by(actor).filter(pk=collection.pk).exists():
        raise PermissionDenied(_("You may not add to or remove from this collection."))


def _check_visible(actor, images: Sequence[Image]) -> list[int]:
    ids = sorted({image.pk for image in images})
    if ids and queries.images_visible_to(actor).filter(pk__in=ids).count() != len(ids):
        raise PermissionDenied(_("You may only collect images you can see."))
    return ids


def add_images(actor, collection: Collection, images: Sequence[Image]) -> int:
    """Add the images (those already in stay where they are); returns how many were new."""
    with transaction.atomic():
        _check_addable(actor, collection)
        ids = _check_visible(actor, images)
        if not ids:
            return 0
        already = CollectionItem.objects.filter(collection=collection, image_id__in=ids).count()
        now = timezone.now()
        CollectionItem.objects.bulk_create(
            [
                CollectionItem(collection=collection, image_id=pk, added_by=actor, added_at=now)
                for pk in ids
            ],
            ignore_conflicts=True,
        )
        Collection.objects.filter(pk=collection.pk).update(updated_at=now)
    return len(ids) - already


def remove_images(actor, collection: Collection, images: Sequence[Image]) -> int:
    """Take the images out of the collection (they stay in the gallery); returns how many."""
    with transaction.atomic():
        _check_addable(actor, collection)
        ids = _check_visible(actor, images)
        if not ids:
            return 0
        removed, _counts = CollectionItem.objects.filter(
            collection=collection, image_id__in=ids
        ).delete()
        Collection.objects.filter(pk=collection.pk, cover_id__in=ids).update(cover=None)
        Collection.objects.filter(pk=collection.pk).update(updated_at=timezone.now())
    return removed


def set_cover(actor, collection: Collection, image: Image | None) -> None:
    """The creator picks the cover among the collection's images; None: the newest added."""
    _check_owner(actor, collection)
    if image is not None:
        if not queries.images_visible_to(actor).filter(pk=image.pk).exists():
            raise PermissionDenied(_("You may only pick an image you can see."))
        if not CollectionItem.objects.filter(collection=collection, image=image).exists():
            raise ValidationError(_("The cover must be one of the collection's images."))
    collection.cover = image
    collection.updated_at = timezone.now()
    collection.save(update_fields=["cover", "updated_at"])
