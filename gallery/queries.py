"""Read-side selectors shared by pages, the API and the admin: permission rules live here."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Max, Min, Q, QuerySet

from gallery.models import Generation, Image

JOBS_PAGE_SIZE = 50


def images_visible_to(user) -> QuerySet[Image]:
    """The team gallery: every member sees every image that moderation has not hidden."""
    if not user.is_authenticated:
        return Image.objects.none()
    return Image.objects.filter(is_hidden=False).select_related("owner")


def hidden_image_of(user, pk: int) -> bool:
    """True when the image is the member's own and staff have hidden it: they get told so."""
    return Image.objects.filter(pk=pk, owner=user, is_hidden=True).exists()


def generations_of(user) -> QuerySet[Generation]:
    return Generation.objects.filter(user=user).select_related("image")


def generations_visible_to(user) -> QuerySet[Generation]:
    """A member's own jobs; staff see everyone's."""
    if user.is_staff:
        return Generation.objects.select_related("image", "user")
    return generations_of(user)


def batch_of(user, batch) -> QuerySet[Generation]:
    return generations_visible_to(user).filter(batch=batch).order_by("id")


def batches_visible_to(user) -> QuerySet:
    """One row per batch, newest first, with how many of its jobs are in each state."""
    jobs = Generation.objects.all() if user.is_staff else Generation.objects.filter(user=user)
    active = list(Generation.ACTIVE)
    return (
        jobs.values("batch", "user__username")
        .annotate(
            created_at=Min("created_at"),
            prompt=Min("prompt"),
            width=Min("width"),
            height=Min("height"),
            total=Count("id"),
            running=Count("id", filter=Q(status__in=active)),
            succeeded=Count("id", filter=Q(status=Generation.Status.SUCCEEDED)),
            failed=Count("id", filter=Q(status=Generation.Status.FAILED)),
            canceled=Count("id", filter=Q(status=Generation.Status.CANCELED)),
            last_change=Max("status_changed_at"),
        )
        .order_by("-created_at", "batch")
    )


def running_count(user) -> int:
    return Generation.objects.filter(user=user, status__in=Generation.ACTIVE).count()


def running_strip_of(user, *, since: datetime) -> list[Generation]:
    """The member's jobs still running, and those that finished since `since` (the gallery's
    load), oldest first: the strip above the gallery."""
    finished_lately = Q(finished_at__gte=since) & ~Q(status=Generation.Status.CANCELED)
    return list(
        generations_of(user)
        .filter(Q(status__in=Generation.ACTIVE) | finished_lately)
        .order_by("created_at", "id")[:24]
    )


def last_generation_of(user) -> Generation | None:
    return Generation.objects.filter(user=user).order_by("-created_at", "-id").first()
