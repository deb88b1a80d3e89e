"""What members do to stored images: favourite one, vary it, change who sees them, delete them
(and their S3 objects once nothing else points at them). The set-based changes take a whole
selection in a bounded number of queries, whatever its size."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q

from gallery.models import Favourite, Generation, Image, Visibility
from gallery.queueing import enqueue_purge
from gallery.seedream.contract import GenerationParams
from gallery.services import generation as generation_service
from gallery.storage import delete_object

log = logging.getLogger(__name__)


def toggle_favourite(*, user, image: Image) -> bool:
    """Mark or unmark the image for this member; True when it is now a favourite."""
    deleted, _ = Favourite.objects.filter(user=user, image=image).delete()
    if deleted:
        return False
    try:
        with transaction.atomic():
            Favourite.objects.create(user=user, image=image)
    except IntegrityError:  # a double click's twin got there first
        pass
    return True


def set_favourite(*, user, image: Image, favourite: bool) -> None:
    """Make the image a favourite of this member or not, whatever it was before (idempotent)."""
    if not favourite:
        Favourite.objects.filter(user=user, image=image).delete()
        return
    try:
        with transaction.atomic():
            Favourite.objects.get_or_create(user=user, image=image)
    except IntegrityError:  # a concurrent request's twin got there first
        pass


def vary(*, user, image: Image) -> list[Generation]:
    """A new job with every parameter of the image but a fresh random seed; a variation of
    the member's own image keeps its visibility (a private image's stays private).

    Raises generation.QuotaExceeded when the member has no images left today."""
    params = GenerationParams(
        prompt=image.prompt,
        model=image.model,
        size=f"{image.width}x{image.height}",
        seed=None,
        guidance_scale=image.guidance_scale,
        watermark=image.watermark,
    )
    visibility = image.visibility if image.owner_id == user.pk else None
    return generation_service.submit(user=user, params=params, variations=1, visibility=visibility)


def can_delete(user, image: Image) -> bool:
    return can_change(user, image)


def can_change(user, image: Image) -> bool:
    """The image's author or staff may change it (visibility, tags, delete): the same rule as
    queries.images_changeable_by, for an image already in hand."""
    return user.is_staff or image.owner_id == user.pk


def _check_changeable(user, images: Sequence[Image]) -> None:
    if not all(can_change(user, image) for image in images):
        raise PermissionDenied("Only an image's author or staff may change it.")


def set_visibility(*, user, images: Sequence[Image], visibility: str) -> int:
    """Give every image of the selection this visibility, in one UPDATE; all or none.

    Raises ValueError for a visibility that is not one, PermissionDenied when any image is not
    the member's to change (nothing changes then). Returns how many rows changed."""
    if visibility not in Visibility.values:
        raise ValueError(f"{visibility!r} is not a visibility")
    _check_changeable(user, images)
    ids = [image.pk for image in images]
    if not ids:
        return 0
    changed = Image.objects.filter(pk__in=ids).exclude(visibility=visibility)
    return changed.update(visibility=visibility)


def delete_image(*, user, image: Image) -> None:
    """Delete the row; its S3 objects go after the commit, when no other row uses them."""
    if not can_delete(user, image):
        raise PermissionDenied("Only the image's owner or staff may delete it.")
    delete_images(user=user, images=[image])


def delete_images(*, user, images: Sequence[Image]) -> int:
    """Delete every image of the selection, all or none (PermissionDenied when any is not the
    member's); their S3 objects are purged after the commit, each only when no remaining row
    uses it (keys are content-addressed, so two rows may share one). Returns rows deleted."""
    _check_changeable(user, images)
    ids = [image.pk for image in images]
    if not ids:
        return 0
    keys = sorted({key for image in images for key in (image.original_key, image.thumbnail_key)})
    with transaction.atomic():
        Image.objects.filter(pk__in=ids).delete()
        transaction.on_commit(lambda: _purge_soon(keys))
    return len(ids)


def _purge_soon(keys: list[str]) -> None:
    try:
        enqueue_purge(keys)
    except Exception as exc:  # no broker: try now; an orphan object is harmless, a lost row is not
        log.warning("could not queue the purge of %s (%s); purging inline", keys, exc)
        try:
            purge_unreferenced_objects(keys)
        except Exception as purge_exc:
            log.error("could not purge %s: %s", keys, purge_exc)


def purge_unreferenced_objects(keys: list[str]) -> list[str]:
    """Delete the objects under these keys that no image row points at; return those deleted.

    Keys are content-addressed, so the same bytes made again share a key: a key still in use
    stays. An S3 error propagates so the task retries it."""
    in_use = set(
        Image.objects.filter(Q(original_key__in=keys) | Q(thumbnail_key__in=keys)).values_list(
            "original_key", "thumbnail_key"
        )
    )
    used = {key for pair in in_use for key in pair}
    deleted = []
    for key in keys:
        if key in used:
            continue
        delete_object(key)
        deleted.append(key)
    return deleted
