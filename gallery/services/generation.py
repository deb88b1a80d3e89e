"""The generation pipeline's rules: submit, run (call the provider once, then ingest), cancel,
retry and sweep. Tasks and views call these; every state change is one conditional UPDATE.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from gallery.models import Generation, Image, MemberQuota, ProviderCall
from gallery.seedream import client as seedream
from gallery.seedream.contract import SEED_MAX, GenerationParams
from gallery.services import ingest
from gallery.services.generation_events import generation_finished

log = logging.getLogger(__name__)
Status = Generation.Status
URL_EXPIRED_MESSAGE = "The provider's image link expired before the image could be stored."


class QuotaExceeded(Exception):
    """The member asked for more images than their daily limit leaves."""

    code = "quota_exceeded"

    def __init__(self, *, requested: int, remaining: int, limit: int) -> None:
        self.requested, self.remaining, self.limit = requested, remaining, limit
        self.message = (
            f"You asked for {requested} image{'s' if requested != 1 else ''} but have "
            f"{remaining} of your {limit} daily images left."
        )
        super().__init__(self.message)


@dataclass(frozen=True)
class RunOutcome:
    """What a run of one generation ended in; `retry_in` asks the caller to run it again."""

    status: str
    retry_in: float | None = None


# --- Quotas -----------------------------------------------------------------


def daily_limit(user) -> int:
    quota = MemberQuota.objects.filter(user=user).first()
    return quota.daily_image_limit if quota else settings.GENERATION_DAILY_IMAGE_LIMIT


def images_used_today(user) -> int:
    """Images asked for since midnight UTC, not counting canceled ones or failures that the
    provider never produced."""
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return (
        Generation.objects.filter(user=user, created_at__gte=start)
        .exclude(status=Status.CANCELED)
        .exclude(status=Status.FAILED, provider_result__isnull=True)
        .count()
    )


def images_left_today(user) -> int:
    return max(0, daily_limit(user) - images_used_today(user))


# --- Submit, cancel, retry ---------------------------------------------------


def submit(*, user, params: GenerationParams, variations: int = 1) -> list[Generation]:
    """Create one queued Generation per variation and queue their tasks once committed.

    A seed of None or -1 draws a fresh random seed for each variation; a given seed is used
    for the first and counted up for the others, so every image can be made again.
    """
    if not 1 <= variations <= settings.GENERATION_MAX_VARIATIONS:
        raise ValueError(f"variations must be 1..{settings.GENERATION_MAX_VARIATIONS}")
    width, height = params.dimensions
    random_seed = params.seed is None or params.seed < 0
    with transaction.atomic():
        # One submit at a time per member, so two tabs cannot both pass the quota check.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        remaining = images_left_today(user)
        if variations > remaining:
            raise QuotaExceeded(requested=variations, remaining=remaining, limit=daily_limit(user))
        batch = uuid.uuid4()
        rows = [
            Generation(
                user=user,
                batch=batch,
                prompt=params.prompt,
                model=params.model,
                width=width,
                height=height,
                seed=_draw_seed() if random_seed else (params.seed + i) % (SEED_MAX + 1),
                seed_was_random=random_seed,
                guidance_scale=params.guidance_scale if params.guidance_scale is not None else 2.5,
                watermark=bool(params.watermark),
            )
            for i in range(variations)
        ]
        created = Generation.objects.bulk_create(rows)
        if any(row.pk is None for row in created):  # backends without RETURNING
            created = list(Generation.objects.filter(batch=batch).order_by("id"))
        for row in created:
            _enqueue_on_commit(row.pk)
    return created


def cancel(*, user, generation_id: int) -> bool:
    """Cancel a job that has not started; False when it already has."""
    canceled = Generation.objects.filter(pk=generation_id, user=user, status=Status.QUEUED).update(
        status=Status.CANCELED,
        status_changed_at=timezone.now(),
        finished_at=timezone.now(),
        error_code="canceled",
        error_message="Canceled before it started.",
    )
    if canceled:
        generation_finished(generation_id)
    return bool(canceled)


def retry(*, user, generation_id: int) -> bool:
    """Run a failed job again. It calls the provider again only when the failure came before
    the provider answered; otherwise it re-stores the answer it already has."""
    now = timezone.now()
    fields = dict(
        status_changed_at=now,
        next_attempt_at=None,
        error_code="",
        error_message="",
        provider_error_code="",
        finished_at=None,
        ingest_attempts=0,
    )
    base = Generation.objects.filter(pk=generation_id, user=user, status=Status.FAILED)
    with transaction.atomic():
        moved = base.filter(provider_result__isnull=True).update(
            status=Status.QUEUED, provider_attempts=0, **fields
        ) or base.filter(provider_result__isnull=False).update(status=Status.FETCHED, **fields)
        if moved:
            _enqueue_on_commit(generation_id)
    return bool(moved)


# --- Run ----------------------------------------------------------------------


def run(generation_id: int) -> RunOutcome:
    """Drive one generation as far as it can go: claim, call the provider once, ingest.

    Safe to run again for the same row at any point: a row that holds the provider's answer
    is never sent to the provider again.
    """
    generation = Generation.objects.filter(pk=generation_id).first()
    if generation is None or generation.status in Generation.TERMINAL:
        return RunOutcome(generation.status if generation else "missing")
    if generation.provider_result is None:
        outcome = _call_provider(generation)
        if outcome is not None:
            return outcome
        generation.refresh_from_db()
    return _ingest(generation)


_call_slots = threading.BoundedSemaphore(settings.GENERATION_PROVIDER_CONCURRENCY)


def _call_provider(generation: Generation) -> RunOutcome | None:
    """Claim the row and make the one provider call; None when the answer is stored."""
    if not _call_slots.acquire(blocking=False):
        release_database()
        _call_slots.acquire()
    try:
        return _claim_and_call(generation)
    finally:
        _call_slots.release()


def release_database() -> None:
    """Hand this thread's database connection back before a long wait."""
    if not connection.in_atomic_block:
        connection.close()


def _claim_and_call(generation: Generation) -> RunOutcome | None:
    claim = _claim(generation)
    if not isinstance(claim, ProviderCall):
        return claim
    call = claim
    generation.refresh_from_db()
    release_database()
    try:
        result = seedream.generate(
            _params_of(generation), client_request_id=f"gen-{generation.pk}-{call.pk}"
        )
    except seedream.SeedreamError as exc:
        _finish_call(call, http_status=exc.http_status, error=exc)
        return _provider_failed(generation, exc)
    _finish_call(
        call, http_status=200, request_id=result.request_id, images=result.generated_images
    )
    stored = Generation.objects.filter(pk=generation.pk, status=Status.CALLING).update(
        status=Status.FETCHED,
        status_changed_at=timezone.now(),
        provider_result=result.to_dict(),
        provider_request_id=result.request_id[:200],
        provider_answered_at=timezone.now(),
    )
    if not stored:  # canceled or swept meanwhile; the answer is kept on the call only
        generation.refresh_from_db()
        return RunOutcome(generation.status)
    return None


def _claim(generation: Generation) -> ProviderCall | RunOutcome | None:
    """Move the row to `calling` and open its ProviderCall in one transaction, so every call
    the provider may have seen has a row. Returns what to do instead when it is not ours."""
    now = timezone.now()
    rows = Generation.objects.filter(pk=generation.pk, provider_result__isnull=True)
    with transaction.atomic():
        claimed = rows.filter(status=Status.QUEUED).update(
            status=Status.CALLING,
            status_changed_at=now,
            provider_attempts=F("provider_attempts") + 1,
        )
        if claimed:
            return ProviderCall.objects.create(generation=generation, user_id=generation.user_id)
    generation.refresh_from_db()
    if generation.status != Status.CALLING or generation.provider_result is not None:
        return None if generation.status == Status.FETCHED else RunOutcome(generation.status)
    lease_left = (generation.status_changed_at + call_lease() - now).total_seconds()
    if lease_left > 0:
        # Another worker may still be mid-call: wait until its call must have ended.
        return RunOutcome(Status.CALLING, retry_in=lease_left)
    # Found mid-call past the lease: the worker that made the call died and its answer is
    # lost, so the only way on is to call again. Count it so the repeat is visible.
    with transaction.atomic():
        repeated = rows.filter(
            status=Status.CALLING, status_changed_at=generation.status_changed_at
        ).update(
            status_changed_at=now,
            provider_attempts=F("provider_attempts") + 1,
            repeat_calls=F("repeat_calls") + 1,
        )
        if repeated:
            return ProviderCall.objects.create(
                generation=generation, user_id=generation.user_id, is_repeat=True
            )
    return RunOutcome(Status.CALLING, retry_in=1.0)


def call_lease() -> timedelta:
    """How long a claimed call may still be in flight: the client's timeouts plus a margin."""
    return timedelta(seconds=settings.SEEDREAM_CONNECT_TIMEOUT + settings.SEEDREAM_READ_TIMEOUT + 5)


def _params_of(generation: Generation) -> GenerationParams:
    return GenerationParams(
        prompt=generation.prompt,
        model=generation.model,
        size=generation.size,
        seed=generation.seed,
        guidance_scale=generation.guidance_scale,
        watermark=generation.watermark,
        response_format="url",
    )


def _finish_call(call: ProviderCall, *, http_status, request_id="", images=0, error=None) -> None:
    call.finished_at = timezone.now()
    call.http_status = http_status
    call.request_id = (request_id or (error.request_id if error else "") or "")[:200]
    call.generated_images = images
    if error is not None:
        call.error_code = error.code
        call.provider_error_code = (error.provider_code or "")[:120]
    call.save()


def _provider_failed(generation: Generation, exc: seedream.SeedreamError) -> RunOutcome:
    attempts = generation.provider_attempts
    if exc.retryable and attempts < settings.GENERATION_MAX_PROVIDER_ATTEMPTS:
        delay = backoff_delay(attempts, retry_after=getattr(exc, "retry_after", None))
        requeued = Generation.objects.filter(pk=generation.pk, status=Status.CALLING).update(
            status=Status.QUEUED,
            status_changed_at=timezone.now(),
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
            error_code=exc.code,
            error_message=exc.message,
            provider_error_code=(exc.provider_code or "")[:120],
        )
        if requeued:
            log.info("generation %s: %s, retrying in %.1fs", generation.pk, exc.code, delay)
            return RunOutcome(Status.QUEUED, retry_in=delay)
        return RunOutcome(Generation.objects.get(pk=generation.pk).status)
    message = exc.message
    if exc.retryable:
        message = f"{exc.message} Gave up after {attempts} attempts."
    _fail(generation.pk, Status.CALLING, exc.code, message, provider_code=exc.provider_code)
    return RunOutcome(Status.FAILED)


def _ingest(generation: Generation) -> RunOutcome:
    if generation.status != Status.FETCHED:
        return RunOutcome(generation.status)
    if _provider_url_expired(generation):
        _fail(generation.pk, Status.FETCHED, "provider_url_expired", URL_EXPIRED_MESSAGE)
        return RunOutcome(Status.FAILED)
    Generation.objects.filter(pk=generation.pk).update(ingest_attempts=F("ingest_attempts") + 1)
    generation.ingest_attempts += 1  # close enough for the retry budget; the row has the truth
    try:
        stored = ingest.ingest_provider_image(generation)
        with transaction.atomic():
            finished = Generation.objects.filter(pk=generation.pk, status=Status.FETCHED).update(
                status=Status.SUCCEEDED,
                status_changed_at=timezone.now(),
                finished_at=timezone.now(),
                next_attempt_at=None,
                error_code="",
                error_message="",
                warning=stored.warning,
            )
            if finished:
                Image.objects.create(
                    generation=generation, owner_id=generation.user_id, **stored.fields
                )
                generation_finished(generation.pk)
            stored.wait_stored()  # an upload that failed rolls the row back
    except ingest.IngestError as exc:
        return _ingest_failed(generation, exc)
    if not finished:
        return RunOutcome(Generation.objects.get(pk=generation.pk).status)
    return RunOutcome(Status.SUCCEEDED)


def _ingest_failed(generation: Generation, exc: ingest.IngestError) -> RunOutcome:
    attempts = generation.ingest_attempts
    if exc.retryable and attempts < settings.GENERATION_MAX_INGEST_ATTEMPTS:
        delay = backoff_delay(attempts)
        Generation.objects.filter(pk=generation.pk, status=Status.FETCHED).update(
            status_changed_at=timezone.now(),
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
            error_code=exc.code,
            error_message=exc.message,
        )
        log.info("generation %s: ingest %s, retrying in %.1fs", generation.pk, exc.code, delay)
        return RunOutcome(Status.FETCHED, retry_in=delay)
    _fail(generation.pk, Status.FETCHED, exc.code, exc.message)
    return RunOutcome(Status.FAILED)


def _provider_url_expired(generation: Generation) -> bool:
    result = generation.provider_result or {}
    if not result.get("url") or generation.provider_answered_at is None:
        return False
    lifetime = timedelta(seconds=settings.GENERATION_PROVIDER_URL_LIFETIME)
    return timezone.now() > generation.provider_answered_at + lifetime


def _fail(pk: int, from_status: str, code: str, message: str, *, provider_code: str = "") -> bool:
    rows = Generation.objects.filter(pk=pk, status=from_status)
    failed = _fail_rows(rows, code, message, provider_code=provider_code)
    if failed:
        generation_finished(pk)
    return failed


def _fail_rows(rows, code: str, message: str, *, provider_code: str = "") -> bool:
    """Move the matched rows to `failed`, in one conditional UPDATE."""
    now = timezone.now()
    return bool(
        rows.update(
            status=Status.FAILED,
            status_changed_at=now,
            finished_at=now,
            next_attempt_at=None,
            error_code=code[:40],
            error_message=message,
            provider_error_code=(provider_code or "")[:120],
        )
    )


def backoff_delay(attempt: int, *, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter: base * 2^(attempt-1), capped, in [half, full]."""
    ceiling = min(
        settings.GENERATION_RETRY_MAX_DELAY,
        settings.GENERATION_RETRY_BASE_DELAY * 2 ** max(0, attempt - 1),
    )
    delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security
    if retry_after:
        delay = max(delay, min(retry_after, settings.GENERATION_RETRY_MAX_DELAY))
    return delay


# --- Sweeper ------------------------------------------------------------------


def sweep_stuck() -> dict[str, int]:
    """Re-queue jobs stuck past their deadline; fail those out of attempts or whose provider
    link has expired. Beat runs it every minute."""
    now = timezone.now()
    deadline = now - timedelta(seconds=settings.GENERATION_STUCK_AFTER)
    counts = {"requeued": 0, "failed": 0}
    stuck = Generation.objects.filter(status__in=Generation.ACTIVE, status_changed_at__lt=deadline)
    for generation in stuck.only(
        "pk",
        "status",
        "provider_attempts",
        "ingest_attempts",
        "provider_result",
        "provider_answered_at",
    ):
        if _sweep_one(generation, deadline):
            counts["requeued"] += 1
        else:
            counts["failed"] += 1
    return counts


def _sweep_one(generation: Generation, deadline) -> bool:
    """True when the job was queued again, False when it was failed."""
    stale = Generation.objects.filter(
        pk=generation.pk, status=generation.status, status_changed_at__lt=deadline
    )
    out_of_attempts = (
        generation.status == Status.FETCHED
        and generation.ingest_attempts >= settings.GENERATION_MAX_INGEST_ATTEMPTS
    ) or (
        generation.status != Status.FETCHED
        and generation.provider_attempts >= settings.GENERATION_MAX_PROVIDER_ATTEMPTS
    )
    if generation.status == Status.FETCHED and _provider_url_expired(generation):
        if _fail_rows(stale, "provider_url_expired", URL_EXPIRED_MESSAGE):
            generation_finished(generation.pk)
        return False
    if out_of_attempts:
        if _fail_rows(stale, "stuck", "The job stopped making progress and ran out of attempts."):
            generation_finished(generation.pk)
        return False
    if stale.update(status_changed_at=timezone.now()):
        _enqueue(generation.pk)
        return True
    return False


# --- Usage --------------------------------------------------------------------


def usage_by_user(*, since=None):
    """Images the provider billed, per user (from every successful call, repeats included)."""
    calls = ProviderCall.objects.filter(generated_images__gt=0)
    if since is not None:
        calls = calls.filter(started_at__gte=since)
    return calls.values("user_id").annotate(images=Sum("generated_images")).order_by("user_id")


# --- Queueing -----------------------------------------------------------------


def _draw_seed() -> int:
    return secrets.randbelow(SEED_MAX + 1)


def _enqueue(generation_id: int, *, countdown: float | None = None) -> None:
    from gallery.tasks import run_generation

    run_generation.apply_async((generation_id,), countdown=countdown)


def _enqueue_on_commit(generation_id: int) -> None:
    transaction.on_commit(lambda: _enqueue(generation_id))
