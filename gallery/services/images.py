"""What members do to a stored image: favourite it, vary it, delete it (and its S3 objects
once nothing else points at them)."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q

from gallery.models import Favourite, Generation, Image
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
    """A new job with every parameter of the image but a fresh random seed.

    Raises generation.QuotaExceeded when the member has no images left today."""
    params = GenerationParams(
        prompt=image.prompt,
        model=image.model,
        size=f"{image.width}x{image.height}",
        seed=None,
        guidance_scale=image.guidance_scale,
        watermark=image.watermark,
    )
    return generation_service.submit(user=user, params=params, variations=1)


def can_delete(user, image: Image) -> bool:
    return user.is_staff or image.owner_id == user.pk


def delete_image(*, user, image: Image) -> None:
    """Delete the row; its S3 objects go after the commit, when no other row uses them."""
    if not can_delete(user, image):
        raise PermissionDenied("Only the image's owner or staff may delete it.")
    keys = [image.original_key, image.thumbnail_key]
    with transaction.atomic():
        Image.objects.filter(pk=image.pk).delete()
        transaction.on_commit(lambda: _purge_soon(keys))


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
