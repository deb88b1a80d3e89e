"""The gallery's data: generation jobs, the provider calls they made, and the stored images."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# What a member reads for each state: plain words, not the pipeline's.
STATUS_WORDS = {
    "queued": _("Waiting"),
    "calling": _("Generating"),
    "fetched": _("Saving"),
    "succeeded": _("Done"),
    "failed": _("Failed"),
    "canceled": _("Canceled"),
}


class Generation(models.Model):
    """One requested image: a job that calls the provider once and ingests its answer.

    The row, not the broker, is the source of truth: every state change is one conditional
    UPDATE on `status`, so a redelivered task can see what already happened.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        CALLING = "calling", "Calling the provider"
        FETCHED = "fetched", "Storing the image"
        SUCCEEDED = "succeeded", "Done"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    ACTIVE = (Status.QUEUED, Status.CALLING, Status.FETCHED)
    TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELED)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generations"
    )
    batch = models.UUIDField(default=uuid.uuid4, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    # What was asked for. The seed is always concrete: a random seed is drawn at submit time
    # so every image can be made again.
    prompt = models.TextField()
    model = models.CharField(max_length=100)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    seed = models.BigIntegerField()
    seed_was_random = models.BooleanField(default=False)
    guidance_scale = models.FloatField()
    watermark = models.BooleanField(default=False)

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    status_changed_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    provider_attempts = models.PositiveIntegerField(default=0)
    ingest_attempts = models.PositiveIntegerField(default=0)
    # Calls made again because a crash lost the first call's answer (found in `calling`).
    repeat_calls = models.PositiveIntegerField(default=0)

    # The provider's answer, stored the moment it arrives so an ingest can resume from it.
    provider_result = models.JSONField(null=True, blank=True)
    provider_request_id = models.CharField(max_length=200, blank=True)
    provider_answered_at = models.DateTimeField(null=True, blank=True)

    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    provider_error_code = models.CharField(max_length=120, blank=True)
    warning = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The claim: the call made for the row's current `calling` state. Every write after a call
    # names it, so a call that outlived its lease cannot overwrite a newer claim's state.
    current_call = models.ForeignKey(
        "ProviderCall", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # A member's retry counts against that day's quota, like a new job.
    retried_at = models.DateTimeField(null=True, blank=True)

    # Failures a retry cannot mend: the answer's link is dead, so the same link fails again.
    DEAD_LINK_CODES = ("provider_url_expired", "image_unavailable")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "status_changed_at"], name="generation_status_idx"),
            models.Index(fields=["user", "created_at"], name="generation_user_day_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=["queued", "calling", "fetched", "succeeded", "failed", "canceled"]
                ),
                name="generation_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(seed__gte=0) & Q(seed__lte=2_147_483_647), name="generation_seed_range"
            ),
        ]

    def __str__(self) -> str:
        return f"Generation {self.pk} ({self.status})"

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def can_retry(self) -> bool:
        return self.status == self.Status.FAILED and self.error_code not in self.DEAD_LINK_CODES

    @property
    def is_waiting_for_storage(self) -> bool:
        return self.status == self.Status.FETCHED and self.error_code == "storage_unavailable"

    @property
    def can_cancel(self) -> bool:
        return self.status == self.Status.QUEUED

    @property
    def status_word(self) -> str:
        return STATUS_WORDS.get(self.status, self.status)

    @property
    def elapsed_seconds(self) -> int:
        """Seconds since it was asked for, or until it finished."""
        end = self.finished_at or timezone.now()
        return max(0, int((end - self.created_at).total_seconds()))


class ProviderCall(models.Model):
    """One HTTP call to the provider: the audit trail, and what usage accounting sums."""

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="calls")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_calls"
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    is_repeat = models.BooleanField(default=False)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    provider_error_code = models.CharField(max_length=120, blank=True)
    request_id = models.CharField(max_length=200, blank=True)
    generated_images = models.PositiveIntegerField(default=0)
    # The call may have reached the provider without our seeing its answer (a timeout, a
    # connection cut after sending, a worker killed mid-call): usage counts it as one image.
    possibly_billed = models.BooleanField(default=False)
    # The provider's answer, stored with the row's in one transaction: kept even when the
    # row has moved on (canceled, or claimed again after this call's lease).
    result = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["user", "started_at"], name="providercall_usage_idx")]

    def __str__(self) -> str:
        return f"Call {self.pk} for generation {self.generation_id}"


class Image(models.Model):
    """A stored, verified image in the gallery, with what it takes to make it again."""

    generation = models.OneToOneField(
        Generation, on_delete=models.SET_NULL, null=True, blank=True, related_name="image"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="images"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The submit this image came from (its generation's batch): the gallery stacks a batch.
    batch = models.UUIDField(default=uuid.uuid4)

    prompt = models.TextField()
    # Words and CJK characters and pairs of the prompt, for substring search (gallery/search.py).
    search_tokens = models.TextField(blank=True, default="", editable=False)
    model = models.CharField(max_length=100)
    seed = models.BigIntegerField()
    guidance_scale = models.FloatField()
    watermark = models.BooleanField(default=False)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()

    original_key = models.CharField(max_length=255)
    content_type = models.CharField(max_length=50)
    byte_size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)  # of the stored original
    provider_sha256 = models.CharField(max_length=64)  # of the bytes the provider sent
    thumbnail_key = models.CharField(max_length=255)
    thumb_width = models.PositiveIntegerField()
    thumb_height = models.PositiveIntegerField()
    dominant_color = models.CharField(max_length=7, default="#cccccc")

    is_hidden = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Keyset pagination: the gallery walks (created_at, id) in either direction.
            models.Index(fields=["created_at", "id"], name="image_keyset_idx"),
            models.Index(fields=["owner", "created_at", "id"], name="image_owner_keyset_idx"),
            models.Index(fields=["batch", "id"], name="image_batch_idx"),
        ]

    def __str__(self) -> str:
        return f"Image {self.pk}: {self.prompt[:40]}"

    def save(self, *args, **kwargs):
        from gallery.search import prompt_tokens

        self.search_tokens = prompt_tokens(self.prompt)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("gallery:image", args=[self.pk])

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def thumbnail_url(self) -> str:
        """A short-lived presigned URL: the bucket itself is private."""
        from gallery.storage import presigned_url

        return presigned_url(self.thumbnail_key)

    @property
    def original_url(self) -> str:
        from gallery.storage import presigned_url

        return presigned_url(self.original_key)

    @property
    def download_name(self) -> str:
        """A readable file name from the prompt's first words and the seed (any script)."""
        from django.utils.text import slugify

        words = slugify(self.prompt[:80], allow_unicode=True)[:60].strip("-") or "image"
        return f"{words}-seed{self.seed}.{self.original_key.rsplit('.', 1)[-1]}"

    @property
    def download_url(self) -> str:
        """A presigned URL that makes the browser save the original under `download_name`."""
        from gallery.storage import presigned_url

        return presigned_url(self.original_key, download_name=self.download_name)


class Favourite(models.Model):
    """A member's mark on an image they want to find again."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="favourites"
    )
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="favourites")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "image"], name="favourite_once_per_member")
        ]

    def __str__(self) -> str:
        return f"{self.user} likes image {self.image_id}"


class MemberQuota(models.Model):
    """A member's own daily image limit, set by staff; absent means the site default."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quota"
    )
    daily_image_limit = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.user}: {self.daily_image_limit} images a day"


class ApiToken(models.Model):
    """A member's personal API token for the gateway and the JSON API. Only its SHA-256 is
    kept: the token itself is shown once, when it is made."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)  # the token's first characters, to tell them apart
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Written at most once a minute per token, not on every request.
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyKey(models.Model):
    """A gateway request's `Idempotency-Key`: a retry with the same key and body gets the
    first request's generation instead of a new one. Keys older than a day are ignored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # sha256 of the request's canonical JSON
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.key} -> generation {self.generation_id}"
