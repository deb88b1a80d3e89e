"""Shared steps of the share-link tests: a link made through the service, a collection made
through the ORM (the organise branch owns the collection pages), and a clean Redis."""

from __future__ import annotations

import re

from django.utils import timezone

from gallery.models import Collection, CollectionItem
from gallery.services import sharing
from tests.images import make_image

_keys = iter(range(1, 10**6))


def image_of(owner, **fields):
    """An image whose content hash looks real (public pages name images by it)."""
    return make_image(owner, key=f"{next(_keys) + 0xABC000:064x}", **fields)


def share(user, *, password="", **choices):
    target = {k: choices.pop(k) for k in ("image", "collection") if k in choices}
    link, token = sharing.create_link(
        user=user, choices=sharing.LinkChoices(**choices), password=password, **target
    )
    return link, token


def collection_of(owner, images, *, name="Trip", visibility="team"):
    collection = Collection.objects.create(owner=owner, name=name, visibility=visibility)
    now = timezone.now()
    for n, image in enumerate(images):
        CollectionItem.objects.create(
            collection=collection,
            image=image,
            added_by=owner,
            added_at=now + timezone.timedelta(seconds=n),
        )
    return collection


# Per-response noise: the CSRF token in forms and cookies.
CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')


def without_noise(body: bytes) -> bytes:
    return CSRF.sub(b"", body)


def stored_image_of(owner, *, size=(64, 48), colour=(200, 80, 40), **fields):
    """An image whose original (JPEG) and thumbnail (WebP) are really in S3."""
    import io

    from PIL import Image as PillowImage

    from gallery.storage import put_object

    image = image_of(owner, width=size[0], height=size[1], **fields)
    for key, kind, content_type in (
        (image.original_key, "JPEG", "image/jpeg"),
        (image.thumbnail_key, "WEBP", "image/webp"),
    ):
        out = io.BytesIO()
        PillowImage.new("RGB", size, colour).save(out, kind)
        put_object(key, out.getvalue(), content_type)
    return image


def fresh_counters() -> None:
    """Forget every rate-limit and view counter: each test starts as a new visitor."""
    from django.core.cache import caches

    from gallery.redis_connection import sync_client

    sync_client().flushdb()
    caches["ratelimit"].clear()
