"""The gallery's data: generation jobs, the provider calls they made, and the stored images."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from taggit.managers import TaggableManager
from taggit.models import TaggedItemBase

# What a member reads for each state: plain words, not the pipeline's.
STATUS_WORDS = {
    "queued": _("Waiting"),
    "calling": _("Generating"),
    "fetched": _("Saving"),
    "succeeded": _("Done"),
    "failed": _("Failed"),
    "canceled": _("Canceled"),
}


class Visibility(models.TextChoices):
    """Who sees an image: its author (and staff), every member, or also the public showcase."""

    PRIVATE = "private", _("Private")
    TEAM = "team", _("Team")
    PUBLIC = "public", _("Public")


def default_visibility() -> str:
    """The site's default for new images (GALLERY_DEFAULT_VISIBILITY, "team" unless set)."""
    return settings.GALLERY_DEFAULT_VISIBILITY


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
    # The visibility the image gets when it lands in the gallery.
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=default_visibility
    )

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
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=default_visibility
    )
    tags = TaggableManager(through="ImageTag", blank=True, related_name="images")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(visibility__in=["private", "team", "public"]),
                name="image_visibility_valid",
            ),
        ]
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


class ReportedImage(Image):
    """The moderation queue's view of images (the admin lists only those with open reports)."""

    class Meta:
        proxy = True
        verbose_name = _("reported image")
        verbose_name_plural = _("moderation queue")


class ImageTag(TaggedItemBase):
    """An image's tag (django-taggit, with a real foreign key instead of a generic one, so the
    tag filter is a plain join). Tag names are normalised by gallery.tags.normalise_tag."""

    content_object = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="tagged")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["content_object", "tag"], name="image_tag_once")
        ]
        indexes = [models.Index(fields=["tag", "content_object"], name="image_tag_by_tag_idx")]


class Collection(models.Model):
    """An album: images grouped by hand. It belongs to its creator; a team collection is seen by
    every member, and others may add to it only when the creator allows it."""

    class Visibility(models.TextChoices):
        PRIVATE = "private", _("Private")
        TEAM = "team", _("Team")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collections"
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default="team")
    team_can_add = models.BooleanField(default=False)
    # None: the newest image added is the cover.
    cover = models.ForeignKey(
        Image, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    images = models.ManyToManyField(Image, through="CollectionItem", related_name="collections")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(visibility__in=["private", "team"]), name="collection_visibility_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("gallery:collection", args=[self.pk])


class CollectionItem(models.Model):
    """An image in a collection, with when (and by whom) it was added: the collection's order."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="items")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="collection_items")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["collection", "image"], name="collection_item_once")
        ]
        indexes = [
            models.Index(fields=["collection", "added_at", "id"], name="collection_order_idx")
        ]

    def __str__(self) -> str:
        return f"Image {self.image_id} in collection {self.collection_id}"


class SavedSearch(models.Model):
    """A gallery view (its query string: filters, search, sort) kept under a name: a smart
    collection in the navigation that is always up to date."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_searches"
    )
    name = models.CharField(max_length=100)
    query = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="saved_search_name_once")
        ]

    def __str__(self) -> str:
        return self.name


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


class MemberProfile(models.Model):
    """A member's own choices that are not Django's: today, whether their public images may
    appear on the public showcase (/explore/)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="gallery_profile"
    )
    show_on_explore = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"Profile of {self.user}"


class ShareLink(models.Model):
    """A public link to one image or one collection (/s/<token>/). Only the token's SHA-256 is
    kept, so a database dump alone does not reveal live links."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="share_links"
    )
    image = models.ForeignKey(
        Image, on_delete=models.CASCADE, null=True, blank=True, related_name="share_links"
    )
    collection = models.ForeignKey(
        Collection, on_delete=models.CASCADE, null=True, blank=True, related_name="share_links"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # None: never
    password_hash = models.CharField(max_length=128, blank=True)  # Django's hashers; "": none
    allow_download = models.BooleanField(default=False)
    show_prompt = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Flushed from Redis counters by a periodic task, not written on every view.
    view_count = models.PositiveIntegerField(default=0)
    last_viewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(image__isnull=False) & Q(collection__isnull=True))
                | (Q(image__isnull=True) & Q(collection__isnull=False)),
                name="share_link_one_target",
            ),
        ]

    def __str__(self) -> str:
        return self.label or f"Share link {self.pk}"


class Report(models.Model):
    """A complaint about an image, from a visitor of a public page or from a member. The
    reporter is never shown to the author."""

    class Reason(models.TextChoices):
        ILLEGAL = "illegal", _("Illegal")
        SEXUAL = "sexual", _("Sexual")
        VIOLENT = "violent", _("Violent")
        HATEFUL = "hateful", _("Hateful")
        INFRINGING = "infringing", _("Infringing")
        SPAM = "spam", _("Spam")
        OTHER = "other", _("Other")

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="reports")
    reason = models.CharField(max_length=12, choices=Reason.choices)
    details = models.TextField(blank=True)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    share_link = models.ForeignKey(
        ShareLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="reports"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Set when staff act on the image (approve, hide, delete): the report leaves the queue.
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=12, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["image", "resolved_at"], name="report_open_idx")]

    def __str__(self) -> str:
        return f"Report of image {self.image_id}: {self.reason}"


class ModerationEventQuerySet(models.QuerySet):
    """The audit log is append-only: no bulk update or delete either."""

    def update(self, **kwargs):
        raise PermissionError("ModerationEvent rows cannot be changed")

    def delete(self):
        raise PermissionError("ModerationEvent rows cannot be deleted")


class ModerationEvent(models.Model):
    """One staff action: who, what, on which objects, when and why. Append-only."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150)  # kept when the actor's account is gone
    action = models.CharField(max_length=30)
    # [{"type": "image", "id": 12, "label": "..."}, ...]
    targets = models.JSONField(default=list)
    reason = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = ModerationEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_name}: {self.action} at {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("ModerationEvent rows cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("ModerationEvent rows cannot be deleted")


class PromptRule(models.Model):
    """A blocklist entry, checked before the provider is called. A word matches Latin text
    case-insensitively on word boundaries and CJK text as a substring; a regex is searched."""

    class Kind(models.TextChoices):
        WORD = "word", _("Word or phrase")
        REGEX = "regex", _("Regular expression")

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.WORD)
    pattern = models.CharField(max_length=500)
    note = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pattern", "id"]

    def __str__(self) -> str:
        return self.pattern


class BlockedPrompt(models.Model):
    """A prompt the blocklist refused: logged for staff (who, when, which rule)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocked_prompts"
    )
    prompt = models.TextField()
    rule = models.ForeignKey(
        PromptRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="hits"
    )
    rule_pattern = models.CharField(max_length=500)  # as it was when it matched
    source = models.CharField(max_length=10)  # form, gateway, api
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Blocked prompt of {self.user} ({self.rule_pattern})"
