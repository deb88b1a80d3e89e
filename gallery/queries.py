"""Read-side selectors shared by pages, the API and the admin: permission rules live here."""

from __future__ import annotations

from django.db.models import QuerySet

from gallery.models import Generation, Image


def images_visible_to(user) -> QuerySet[Image]:
    """The team gallery: every member sees every image that moderation has not hidden."""
    if not user.is_authenticated:
        return Image.objects.none()
    return Image.objects.filter(is_hidden=False).select_related("owner")


def generations_of(user) -> QuerySet[Generation]:
    return Generation.objects.filter(user=user).select_related("image")


def batch_of(user, batch) -> QuerySet[Generation]:
    return generations_of(user).filter(batch=batch).order_by("id")
