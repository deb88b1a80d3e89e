"""The generation pipeline's rules: submit, run (call the provider once, then ingest), cancel,
retry and sweep. Tasks and views call these; every state change is one conditional UPDATE.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from gallery.models import Generation, Image, MemberQuota, ProviderCall, Visibility
from gallery.queueing import enqueue_generation, waiting_generation_ids
from gallery.seedream import client as seedream
from gallery.seedream.contract import SEED_MAX, GenerationParams
from gallery.services import blocklist, ingest, pacing
from gallery.services.generation_events import generation_finished

log = logging.getLogger(__name__)
Status = Generation.Status
URL_EXPIRED_MESSAGE = (
    "The image was made, but the provider's link to it expired before it could be stored. "
    "Generate it again with the same seed to get it back."
)
WAITING_FOR_STORAGE = "Saving, waiting for storage."
# Automatic repeats of a call that may have reached the provider (each may be billed).
MAX_AMBIGUOUS_REPEATS = 1
# What a member reads when a job that kept being retried finally fails: what happened and
# what to do, never "retrying" on a job that has stopped.
FINAL_MESSAGES = {
    "provider_error": "The image service failed with an internal error on all {n} attempts. "
    "Retry later.",
    "connection_error": "The image service could not be reached on any of {n} attempts. "
    "Retry later; if it keeps happening, an operator should check the connection.",
    "timeout": "The image service took too long to answer, again after one more try. It may "
    "have made the image, so it was not asked a third time. Retry to try once more.",
    "connection_lost": "The connection to the image service broke after the request was sent, "
    "again after one more try. It may have made the image, so it was not asked a third time. "
    "Retry to try once more.",
    "download_failed": "The image was made, but fetching it from the image service failed "
    "{n} times. Retry to try again while its link lasts.",
    "download_timeout": "The image was made, but fetching it from the image service timed "
    "out {n} times. Retry to try again while its link lasts.",
}


PromptBlocked = blocklist.PromptBlocked


class NotRetryable(Exception):
    """A retry cannot help this job, or it is not a failed job of this member."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
    """What a run of one generation ended in; `retry_in` asks the caller to run it again,
    `returned` to hand the message back untouched (the worker is shutting down)."""

    status: str
    retry_in: float | None = None
    returned: bool = False


# --- Quotas -----------------------------------------------------------------


def daily_limit(user) -> int:
    quota = MemberQuota.objects.filter(user=user).first()
    return quota.daily_image_limit if quota else settings.GENERATION_DAILY_IMAGE_LIMIT


def images_used_today(user) -> int:
    """Images asked for (or retried) since midnight UTC, not counting canceled ones or
    failures that the provider never produced."""
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return (
        Generation.objects.filter(user=user)
        .filter(Q(created_at__gte=start) | Q(retried_at__gte=start))
        .exclude(status=Status.CANCELED)
        .exclude(status=Status.FAILED, provider_result__isnull=True)
        .count()
    )


def images_left_today(user) -> int:
    return max(0, daily_limit(user) - images_used_today(user))


# --- Submit, cancel, retry ---------------------------------------------------


def submit(
    *,
    user,
    params: GenerationParams,
    variations: int = 1,
    visibility: str | None = None,
    source: str = "form",
) -> list[Generation]:
    """Create one queued Generation per variation and queue their tasks once committed.

    A seed of None or -1 draws a fresh random seed for each variation; a given seed is used
    for the first and counted up for the others, so every image can be made again. The images
    get `visibility` (private, team, public), or GALLERY_DEFAULT_VISIBILITY when None. Raises
    blocklist.PromptBlocked (logged as a BlockedPrompt from `source`: form, gateway or api)
    before anything is saved when the prompt breaks a blocklist rule.
    """
    if not 1 <= variations <= settings.GENERATION_MAX_VARIATIONS:
        raise ValueError(f"variations must be 1..{settings.GENERATION_MAX_VARIATIONS}")
    visibility = visibility or settings.GALLERY_DEFAULT_VISIBILITY
    if visibility not in Visibility.values:
        raise ValueError(f"{visibility!r} is not a visibility")
    blocklist.refuse_blocked(user=user, prompt=params.prompt, source=source)
    width, height = params.dimensions
    random_seed = params.seed is None or params.seed < 0
    limit = daily_limit(user)
    with transaction.atomic():
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
                visibility=visibility,
            )
            for i in range(variations)
        ]
        created = Generation.objects.bulk_create(rows)
        # Checked after the INSERT, so the member's row is locked only for a COUNT and the
        # COMMIT; over the limit, raising rolls the rows back.
        _check_quota(user, variations, limit=limit, already_written=True)
        if any(row.pk is None for row in created):  # backends without RETURNING
            created = list(Generation.objects.filter(batch=batch).order_by("id"))
        for row in created:
            row.start_delayed = False
            _enqueue_on_commit(row)
    return created


def _check_quota(
    user, images: int, *, limit: int | None = None, already_written: bool = False
) -> None:
    """Raise QuotaExceeded unless `images` more fit today. Locks the member's row until the
    caller's transaction ends, so two tabs (or a submit and a retry) cannot both pass: the
    count, taken after the lock, sees every other holder's committed rows. With
    `already_written` the caller's own `images` rows are in this transaction and counted."""
    limit = daily_limit(user) if limit is None else limit
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    # max(): rows written just before midnight are yesterday's and not in today's count.
    used = max(0, images_used_today(user) - (images if already_written else 0))
    remaining = max(0, limit - used)
    if images > remaining:
        raise QuotaExceeded(requested=images, remaining=remaining, limit=limit)


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


def cancel_queued(*, user, batch) -> int:
    """Cancel the jobs of a batch that have not started; those already running go on."""
    now = timezone.now()
    queued = Generation.objects.filter(user=user, batch=batch, status=Status.QUEUED)
    ids = list(queued.values_list("pk", flat=True))
    canceled = queued.filter(pk__in=ids).update(
        status=Status.CANCELED,
        status_changed_at=now,
        finished_at=now,
        error_code="canceled",
        error_message="Canceled before it started.",
    )
    for pk in ids:  # a gateway request waiting on one of them hears at once
        generation_finished(pk)
    return canceled


def cancel_all_queued(user_ids) -> int:
    """Cancel every job of these members that has not started (a suspension): a job already
    calling the provider goes on, since stopping it cannot unbill it."""
    now = timezone.now()
    queued = Generation.objects.filter(user_id__in=list(user_ids), status=Status.QUEUED)
    ids = list(queued.values_list("pk", flat=True))
    canceled = Generation.objects.filter(pk__in=ids, status=Status.QUEUED).update(
        status=Status.CANCELED,
        status_changed_at=now,
        finished_at=now,
        error_code="canceled",
        error_message="Canceled: the account was suspended.",
    )
    for pk in ids:
        transaction.on_commit(lambda pk=pk: generation_finished(pk))
    return canceled


def retry(*, user, generation_id: int, source: str = "form") -> Generation:
    """Run a failed job again; returns it queued. It calls the provider again only when the
    failure came before the provider answered (counted against today's quota, checked under
    the same lock as submit); otherwise it re-stores the answer it already has. An image the
    provider's filter withheld is tried with a new seed. NotRetryable when a retry cannot help;
    QuotaExceeded when today's images are used up; PromptBlocked when a blocklist rule added
    since forbids its prompt."""
    now = timezone.now()
    prompt = (
        Generation.objects.filter(pk=generation_id, user=user, provider_result__isnull=True)
        .values_list("prompt", flat=True)
        .first()
    )
    if prompt is not None:
        blocklist.refuse_blocked(user=user, prompt=prompt, source=source)
    with transaction.atomic():
        generation = (
            Generation.objects.select_for_update()
            .filter(pk=generation_id, user=user, status=Status.FAILED)
            .first()
        )
        if generation is None:
            raise NotRetryable("Only a failed job can be retried.")
        if not generation.can_retry or _provider_url_expired(generation):
            raise NotRetryable(
                "Retrying cannot help: the provider's link to this image is gone. "
                "Generate it again with the same seed instead."
            )
        fields = dict(
            status_changed_at=now,
            next_attempt_at=None,
            error_code="",
            error_message="",
            provider_error_code="",
            finished_at=None,
            ingest_attempts=0,
        )
        if generation.provider_result is None:
            _check_quota(user, 1)
            fields.update(status=Status.QUEUED, provider_attempts=0, repeat_calls=0, retried_at=now)
            if generation.error_code == "output_refused":
                fields.update(seed=_draw_seed(), seed_was_random=True)
        else:
            fields.update(status=Status.FETCHED)
        Generation.objects.filter(pk=generation.pk).update(**fields)
        generation.refresh_from_db()
        generation.start_delayed = False
        _enqueue_on_commit(generation)
    return generation


# --- Run ----------------------------------------------------------------------


def run(generation_id: int) -> RunOutcome:
    """Drive one generation as far as it can go: claim, call the provider once, ingest.

    Safe to run again for the same row at any point: a row that holds the provider's answer
    is never sent to the provider again.
    """
    generation = Generation.objects.filter(pk=generation_id).first()
    if generation is None or generation.status in Generation.TERMINAL:
        return RunOutcome(generation.status if generation else "missing")
    wait = _seconds_until_due(generation)
    if wait > 0:  # an early message (a sweeper's, a redelivery): keep the backoff
        return RunOutcome(generation.status, retry_in=wait)
    if generation.provider_result is None:
        outcome = _wait_for_token(generation) or _call_provider(generation)
        if isinstance(outcome, RunOutcome):
            return outcome
        return _ingest(generation, attempt_counted=outcome)
    return _ingest(generation)


def _seconds_until_due(generation: Generation) -> float:
    if generation.next_attempt_at is None or generation.status == Status.CALLING:
        return 0.0
    return (generation.next_attempt_at - timezone.now()).total_seconds()


_call_slots = threading.BoundedSemaphore(settings.GENERATION_PROVIDER_CONCURRENCY)
_shutting_down = threading.Event()


def stop_claiming() -> None:
    """The worker is shutting down: claim nothing more; runs not yet claimed hand their
    message back. Calls already in flight finish."""
    _shutting_down.set()


def _call_provider(generation: Generation) -> RunOutcome | bool:
    """Claim the row and make the one provider call. Once the row holds the answer: True when
    this thread stored it (the instance up to date, the ingest attempt counted), False when
    another had."""
    called = _call_in_slot(generation)
    if not isinstance(called, _Called):
        return called
    call = called.call
    if called.error is not None:
        _finish_call(
            call, http_status=called.error.http_status, error=called.error, at=called.ended
        )
        return _provider_failed(generation, call, called.error)
    stored = _store_answer(
        generation, call, called.result, answered_at=called.ended,
        deadline=called.started + call_lease_seconds(),
    )  # fmt: skip
    if stored is None:  # the database stayed away: logged, and the row is claimed again
        return RunOutcome(Status.CALLING)
    if not stored:  # canceled, or claimed again meanwhile; the answer is kept on the call
        generation.refresh_from_db()
        return RunOutcome(generation.status)
    return True


@dataclass(frozen=True)
class _Called:
    """A provider call made: its row, when it started (monotonic) and ended, and the answer or
    the error."""

    call: ProviderCall
    started: float
    ended: datetime
    result: seedream.ProviderResult | None = None
    error: seedream.SeedreamError | None = None


def _call_in_slot(generation: Generation) -> _Called | RunOutcome | bool:
    """Claim and call within a call slot, held for the call alone: the next job's call starts
    while this one's answer is written (a wave of answers no longer delays the next wave)."""
    if not _call_slots.acquire(blocking=False):
        release_database()
        _call_slots.acquire()
    try:
        if _shutting_down.is_set():
            return RunOutcome(generation.status, returned=True)
        claim = _claim(generation)
        if claim is None:
            return False
        if not isinstance(claim, ProviderCall):
            return claim
        release_database()
        started = time.monotonic()
        try:
            result = seedream.generate(
                _params_of(generation), client_request_id=f"gen-{generation.pk}-{claim.pk}"
            )
        except seedream.SeedreamError as exc:
            return _Called(claim, started, timezone.now(), error=exc)
        return _Called(claim, started, timezone.now(), result=result)
    finally:
        _call_slots.release()


def release_database() -> None:
    """Hand this thread's database connection back before a long wait."""
    if not connection.in_atomic_block:
        connection.close()


def release_pooled_database() -> None:
    """Hand a pooled connection back between statements far apart (taking it again costs
    ~0.25 ms, and another thread may be waiting for it); a persistent one is kept, since
    remaking it would cost more than holding it."""
    if getattr(connection, "pool", None) is not None:
        release_database()


def _store_answer(
    generation: Generation,
    call: ProviderCall,
    result: seedream.ProviderResult,
    *,
    answered_at: datetime,
    deadline: float,
) -> bool | None:
    """Write the paid answer on the call and on the row in one transaction, fenced by the
    claim; retry a failed write with backoff until `deadline` (monotonic), so a database
    restart does not lose the answer. True when the row took it, False when the row had
    moved on, None when the database never came back."""
    answer = result.to_dict()
    for attempt in range(1, 10_000):
        now = timezone.now()
        fetched = dict(
            status=Status.FETCHED,
            status_changed_at=now,
            next_attempt_at=None,
            error_code="",
            error_message="",
            provider_result=answer,
            provider_request_id=result.request_id[:200],
            provider_answered_at=answered_at,
            warning=result.warning,
        )
        try:
            with transaction.atomic():
                ProviderCall.objects.filter(pk=call.pk).update(
                    finished_at=answered_at,
                    http_status=200,
                    request_id=result.request_id[:200],
                    generated_images=result.generated_images,
                    result=answer,
                )
                # The ingest that follows on this thread is counted here, saving a statement.
                stored = Generation.objects.filter(
                    pk=generation.pk, status=Status.CALLING, current_call=call
                ).update(ingest_attempts=F("ingest_attempts") + 1, **fetched)
            if stored:
                for field, value in fetched.items():
                    setattr(generation, field, value)
                generation.ingest_attempts += 1
            return bool(stored)
        except DatabaseError as exc:
            connection.close()  # a broken connection is not reused
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning(
                    "generation %s: the provider's paid answer (request id %s, url %s) could "
                    "not be stored: %s",
                    generation.pk,
                    result.request_id,
                    result.url or "inline image",
                    exc,
                )
                return None
            delay = min(left, 0.25 * 2 ** min(attempt, 5))
            log.info("generation %s: storing the answer failed (%s), again in %.1fs",
                     generation.pk, exc, delay)  # fmt: skip
            time.sleep(delay)
    return None


def _claim(generation: Generation) -> ProviderCall | RunOutcome | None:
    """Move the row to `calling` and open its ProviderCall in one transaction, so every call
    the provider may have seen has a row. Returns what to do instead when it is not ours."""
    now = timezone.now()
    rows = Generation.objects.filter(pk=generation.pk, provider_result__isnull=True)
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    claiming = dict(
        status=Status.CALLING, status_changed_at=now, provider_attempts=F("provider_attempts") + 1
    )
    with transaction.atomic():
        if generation.provider_attempts == 0:
            # A first call (since submit or retry): nothing earlier to close or repeat, so the
            # call is opened first and the claim names it in the same UPDATE.
            call = ProviderCall.objects.create(generation=generation, user_id=generation.user_id)
            if rows.filter(due, status=Status.QUEUED).update(current_call=call, **claiming):
                # What the UPDATE wrote, without reading the row back.
                generation.status, generation.status_changed_at = Status.CALLING, now
                generation.provider_attempts += 1
                generation.current_call = call
                return call
            transaction.set_rollback(True)
        elif rows.filter(due, status=Status.QUEUED).update(**claiming):
            return _opened(generation)
    generation.refresh_from_db()
    if generation.status == Status.QUEUED:
        return RunOutcome(Status.QUEUED, retry_in=max(0.1, _seconds_until_due(generation)))
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
        ).update(status_changed_at=now, provider_attempts=F("provider_attempts") + 1)
        if repeated:
            return _opened(generation)
    return RunOutcome(Status.CALLING, retry_in=1.0)


def _opened(generation: Generation) -> ProviderCall:
    """Open a later call (a retry, a repeat) and read back the row it changed."""
    call = _open_call(generation)
    generation.refresh_from_db()
    return call


def _open_call(generation: Generation) -> ProviderCall:
    """Inside the claim's transaction: close the calls a dead worker left open as possibly
    billed, open this one (a repeat when an earlier call may have been billed) and fence the
    row with it."""
    close_cut_off_calls(generation.pk)
    previous = (
        _calls_since_retry(generation)
        .order_by("-id")
        .values_list("possibly_billed", flat=True)
        .first()
    )
    is_repeat = bool(previous)
    call = ProviderCall.objects.create(
        generation=generation, user_id=generation.user_id, is_repeat=is_repeat
    )
    Generation.objects.filter(pk=generation.pk).update(
        current_call=call, repeat_calls=F("repeat_calls") + (1 if is_repeat else 0)
    )
    return call


def _calls_since_retry(generation: Generation):
    calls = ProviderCall.objects.filter(generation_id=generation.pk)
    if generation.retried_at is not None:
        calls = calls.filter(started_at__gte=generation.retried_at)
    return calls


def close_cut_off_calls(generation_id: int) -> int:
    """Close calls a killed worker left open (no answer, no finish): the provider may have made
    and billed their image, so they count as possibly billed."""
    return ProviderCall.objects.filter(
        generation_id=generation_id, finished_at__isnull=True
    ).update(finished_at=timezone.now(), error_code="cut_off", possibly_billed=True)


def call_lease() -> timedelta:
    """How long a claimed call may still be in flight: the client's total deadline (a
    wall-clock bound, unlike requests' per-read timeouts) plus a margin."""
    return timedelta(seconds=call_lease_seconds())


def call_lease_seconds() -> float:
    return settings.SEEDREAM_TOTAL_TIMEOUT + 5


def check_worker_configuration() -> None:
    """Refuse to start a worker that would redeliver live tasks or cannot call the provider."""
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    needed = call_lease_seconds() + settings.GENERATION_RETRY_MAX_DELAY
    if visibility <= needed:
        raise ImproperlyConfigured(
            f"CELERY_VISIBILITY_TIMEOUT ({visibility} s) must exceed a call's lease plus the "
            f"longest retry delay ({needed:.0f} s), or Redis hands running jobs out again."
        )
    if not settings.DEBUG and not settings.SEEDREAM_API_KEY.strip():
        raise ImproperlyConfigured("SEEDREAM_API_KEY is empty: set the provider's API key.")


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


def _finish_call(call: ProviderCall, *, http_status, error, at: datetime) -> None:
    """Close a failed call; one that may have reached the provider counts as possibly billed."""
    call.finished_at = at
    call.http_status = http_status
    call.request_id = (error.request_id or "")[:200]
    call.error_code = error.code
    call.provider_error_code = (error.provider_code or "")[:120]
    call.possibly_billed = error.ambiguous
    call.save()


def _provider_failed(
    generation: Generation, call: ProviderCall, exc: seedream.SeedreamError
) -> RunOutcome:
    """Queue the job again when another call can help and cannot pay twice; else fail it.
    A call that may have been billed gets at most MAX_AMBIGUOUS_REPEATS automatic repeats."""
    attempts = generation.provider_attempts
    mine = Generation.objects.filter(pk=generation.pk, status=Status.CALLING, current_call=call)
    if exc.code == "rate_limited":
        return _rate_limited(generation, mine, exc)
    again = exc.retryable and attempts < settings.GENERATION_MAX_PROVIDER_ATTEMPTS
    if exc.ambiguous:
        again = again and generation.repeat_calls < MAX_AMBIGUOUS_REPEATS
    if again:
        delay = backoff_delay(attempts, retry_after=getattr(exc, "retry_after", None))
        requeued = mine.update(
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
    if exc.retryable and exc.code in FINAL_MESSAGES:
        message = FINAL_MESSAGES[exc.code].format(n=attempts)
    if _fail_rows(mine, exc.code, message, provider_code=exc.provider_code):
        generation_finished(generation.pk)
    return RunOutcome(Status.FAILED)


# --- Pacing to the provider's rate limit (gallery/services/pacing.py) ----------

# Waits up to this long happen on the worker's thread (no call slot, no database connection);
# longer ones go back to the broker with a countdown that ends PACING_EARLY_S early, so a
# message delayed by a busy broker still finds its token rather than letting it go unused.
PACING_SLEEP_MAX = 2.0
PACING_EARLY_S = 1.0
RATE_LIMIT_BUDGET_MESSAGE = (
    "The image service stayed at its rate limit for {duration}, so this image was not made. "
    "Retry later, or generate fewer images at once."
)


def _wait_for_token(generation: Generation) -> RunOutcome | None:
    """Take this image's token from the shared bucket before its call; None once taken (or
    when nothing paces). Redis away means calling unpaced: a 429 still costs no attempt."""
    if generation.status != Status.QUEUED or not pacing.enabled():
        return None
    front = generation.error_code == "rate_limited"  # it met a 429: keep its place
    slept = 0.0
    while not _shutting_down.is_set():
        try:
            turn = pacing.take(job_id=generation.pk, member_id=generation.user_id, front=front)
        except redis.RedisError as exc:
            log.warning(
                "generation %s: pacing unavailable, calling unpaced: %s", generation.pk, exc
            )
            return None
        if turn.granted:
            return None
        if turn.wait > PACING_SLEEP_MAX or slept > 2 * PACING_SLEEP_MAX:
            back_in = max(0.1, min(turn.wait - PACING_EARLY_S, settings.GENERATION_RETRY_MAX_DELAY))
            return RunOutcome(Status.QUEUED, retry_in=back_in)
        release_database()
        time.sleep(turn.wait)
        slept += turn.wait
    return RunOutcome(generation.status, returned=True)


def _rate_limited(generation: Generation, mine, exc: seedream.SeedreamError) -> RunOutcome:
    """A 429 costs no attempt: every call stops for the provider's Retry-After (or
    SEEDREAM_RATE_LIMIT_WAIT) and the job waits its turn. It fails only once it has met 429s
    for GENERATION_RATE_LIMIT_BUDGET seconds."""
    now = timezone.now()
    first = (
        _calls_since_retry(generation)
        .filter(error_code="rate_limited")
        .order_by("started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    budget = settings.GENERATION_RATE_LIMIT_BUDGET
    if first is not None and (now - first).total_seconds() >= budget:
        message = RATE_LIMIT_BUDGET_MESSAGE.format(duration=_spoken_duration(budget))
        if _fail_rows(mine, exc.code, message, provider_code=exc.provider_code):
            generation_finished(generation.pk)
        return RunOutcome(Status.FAILED)
    wait = exc.retry_after or settings.SEEDREAM_RATE_LIMIT_WAIT
    if pacing.enabled():
        try:
            wait = pacing.drain(wait)  # every worker's calls stop, not only this job's
        except redis.RedisError as exc_redis:
            log.warning("generation %s: pacing unavailable: %s", generation.pk, exc_redis)
    requeued = mine.update(
        status=Status.QUEUED,
        status_changed_at=now,
        next_attempt_at=now + timedelta(seconds=wait),
        provider_attempts=F("provider_attempts") - 1,
        error_code=exc.code,
        error_message=exc.message,
        provider_error_code=(exc.provider_code or "")[:120],
    )
    if not requeued:
        return RunOutcome(Generation.objects.get(pk=generation.pk).status)
    log.info("generation %s: rate limited, waiting %.1fs", generation.pk, wait)
    wait *= random.uniform(1.0, 1.05)  # noqa: S311 - spread the return, not security
    return RunOutcome(Status.QUEUED, retry_in=min(wait, settings.GENERATION_RETRY_MAX_DELAY))


def _spoken_duration(seconds: float) -> str:
    if seconds >= 90:
        return f"{round(seconds / 60)} minutes"
    whole = max(1, round(seconds))
    return f"{whole} second{'s' if whole != 1 else ''}"


def _ingest(generation: Generation, *, attempt_counted: bool = False) -> RunOutcome:
    """Store the fetched image and finish the job. Each attempt is counted before it starts
    (a crash mid-ingest still spends one); `attempt_counted` when storing the answer did."""
    if generation.status != Status.FETCHED:
        return RunOutcome(generation.status)
    if _provider_url_expired(generation):
        _fail(generation.pk, Status.FETCHED, "provider_url_expired", URL_EXPIRED_MESSAGE)
        return RunOutcome(Status.FAILED)
    if not attempt_counted:
        Generation.objects.filter(pk=generation.pk).update(ingest_attempts=F("ingest_attempts") + 1)
        generation.ingest_attempts += 1  # close enough for the retry budget; the row has the truth
    release_pooled_database()  # the download, the decode and the uploads need none
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
                warning=" ".join(w for w in (generation.warning, stored.warning) if w),
            )
            if finished:
                Image.objects.create(
                    generation=generation,
                    owner_id=generation.user_id,
                    visibility=generation.visibility,
                    **stored.fields,
                )
                generation_finished(generation.pk)
            stored.wait_stored()  # an upload that failed rolls the row back
    except ingest.IngestError as exc:
        return _ingest_failed(generation, exc)
    except DatabaseError as exc:  # the database is away: the answer is safe on the row
        log.warning("generation %s: storing the image's row failed: %s", generation.pk, exc)
        connection.close()
        return _ingest_failed(
            generation,
            ingest.IngestError("database_unavailable", "Saving the image.", retryable=True),
        )
    except Exception:  # a bug or an input nobody foresaw: fail it clearly, never strand it
        log.exception("generation %s: unexpected ingest failure", generation.pk)
        _fail(generation.pk, Status.FETCHED, "ingest_error", INGEST_ERROR_MESSAGE)
        return RunOutcome(Status.FAILED)
    if not finished:
        return RunOutcome(Generation.objects.get(pk=generation.pk).status)
    return RunOutcome(Status.SUCCEEDED)


INGEST_ERROR_MESSAGE = (
    "The image was made, but something unexpected went wrong while storing it; the error is "
    "logged for the operators. Retry to try storing it again."
)


def _ingest_failed(generation: Generation, exc: ingest.IngestError) -> RunOutcome:
    """Back off and try again, or fail. Waiting for storage or the database costs no attempt:
    a paid answer keeps trying for as long as its link lives (an inline image, until staff
    give up on it)."""
    attempts = generation.ingest_attempts
    waiting = exc.code in ("storage_unavailable", "database_unavailable")
    if waiting or (exc.retryable and attempts < settings.GENERATION_MAX_INGEST_ATTEMPTS):
        delay = backoff_delay(attempts)
        if waiting:
            Generation.objects.filter(pk=generation.pk).update(
                ingest_attempts=F("ingest_attempts") - 1
            )
            delay = _storage_wait_delay(generation)
        Generation.objects.filter(pk=generation.pk, status=Status.FETCHED).update(
            status_changed_at=timezone.now(),
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
            error_code=exc.code,
            error_message=WAITING_FOR_STORAGE if waiting else exc.message,
        )
        log.info("generation %s: ingest %s, retrying in %.1fs", generation.pk, exc.code, delay)
        return RunOutcome(Status.FETCHED, retry_in=delay)
    message = exc.message
    if exc.retryable and exc.code in FINAL_MESSAGES:
        message = FINAL_MESSAGES[exc.code].format(n=attempts)
    _fail(generation.pk, Status.FETCHED, exc.code, message)
    return RunOutcome(Status.FAILED)


def _storage_wait_delay(generation: Generation) -> float:
    """Backoff while storage is away: a quarter of the time waited so far, between the base
    delay and GENERATION_RETRY_MAX_DELAY, so an outage of hours costs a try a minute."""
    answered = generation.provider_answered_at or timezone.now()
    waited = (timezone.now() - answered).total_seconds()
    base, ceiling = settings.GENERATION_RETRY_BASE_DELAY, settings.GENERATION_RETRY_MAX_DELAY
    return min(ceiling, max(base, waited / 4)) * random.uniform(0.8, 1.0)  # noqa: S311


def give_up_storing(generation_ids) -> int:
    """Staff stop waiting for storage for these jobs: they fail, and may be retried later."""
    rows = Generation.objects.filter(pk__in=list(generation_ids), status=Status.FETCHED)
    return rows.update(
        status=Status.FAILED,
        status_changed_at=timezone.now(),
        finished_at=timezone.now(),
        next_attempt_at=None,
        error_code="storage_unavailable",
        error_message="The image was made, but storage stayed unavailable and an operator "
        "stopped waiting for it. Retry to try storing it again.",
    )


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
    """Re-queue jobs whose message may be lost, and fail those that cannot go on. Beat runs it
    every 30 s. A `calling` row is due once its call's lease has passed (its worker died); a
    `queued` or storing row once it has been due for GENERATION_STUCK_AFTER seconds with no
    message for it waiting in the broker's queue (Redis restarted empty, a submit during a
    broker outage). A job merely waiting in a backlog keeps its one message."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.GENERATION_STUCK_AFTER)
    overdue = Q(next_attempt_at__isnull=True, status_changed_at__lt=stale) | Q(
        next_attempt_at__lt=stale
    )
    candidates = list(
        Generation.objects.filter(
            Q(status=Status.CALLING, status_changed_at__lt=now - call_lease())
            | Q(status__in=(Status.QUEUED, Status.FETCHED)) & overdue
        ).only(
            "pk",
            "status",
            "status_changed_at",
            "provider_attempts",
            "ingest_attempts",
            "provider_result",
            "provider_answered_at",
        )
    )
    counts = {"requeued": 0, "failed": 0}
    if not candidates:
        return counts
    waiting = waiting_generation_ids() | pacing.waiting_ids()
    for generation in candidates:
        if generation.pk in waiting:
            continue
        outcome = _sweep_one(generation)
        if outcome:
            counts[outcome] += 1
    return counts


def _sweep_one(generation: Generation) -> str:
    """'requeued', 'failed', or '' when the row moved on meanwhile."""
    same = Generation.objects.filter(
        pk=generation.pk, status=generation.status, status_changed_at=generation.status_changed_at
    )
    if generation.status == Status.FETCHED:
        if _provider_url_expired(generation):
            return _sweep_failed(generation, same, "provider_url_expired", URL_EXPIRED_MESSAGE)
        if generation.ingest_attempts >= settings.GENERATION_MAX_INGEST_ATTEMPTS:
            return _sweep_failed(generation, same, "stuck", STUCK_STORING_MESSAGE)
    elif generation.provider_attempts >= settings.GENERATION_MAX_PROVIDER_ATTEMPTS:
        with transaction.atomic():
            if generation.status == Status.CALLING:
                close_cut_off_calls(generation.pk)
            return _sweep_failed(generation, same, "stuck", STUCK_CALLING_MESSAGE)
    if generation.status == Status.CALLING:
        # Its lease has passed: the next run closes the cut-off call and calls again. The
        # row is left as it is, so that run does not wait a second lease.
        _enqueue(generation.pk)
        return "requeued"
    if same.update(status_changed_at=timezone.now(), next_attempt_at=None):
        _enqueue(generation.pk)
        return "requeued"
    return ""


def _sweep_failed(generation: Generation, same, code: str, message: str) -> str:
    if not _fail_rows(same, code, message):
        return ""  # it moved on meanwhile
    generation_finished(generation.pk)
    return "failed"


STUCK_CALLING_MESSAGE = (
    "The job was cut off again and again while calling the image service and ran out of "
    "attempts. Retry to try again."
)
STUCK_STORING_MESSAGE = (
    "The image was made, but storing it stopped making progress and ran out of attempts. "
    "Retry to try storing it again."
)


# --- Usage --------------------------------------------------------------------


def usage_by_user(*, since=None):
    """Images the provider may have billed, per user: every image a call returned (repeats
    included) plus one for each call that may have reached the provider without our seeing
    its answer (also given on its own as `possibly_billed_calls`)."""
    calls = ProviderCall.objects.filter(Q(generated_images__gt=0) | Q(possibly_billed=True))
    if since is not None:
        calls = calls.filter(started_at__gte=since)
    return (
        calls.values("user_id")
        .annotate(
            possibly_billed_calls=Count("id", filter=Q(possibly_billed=True)),
            images=Sum("generated_images") + Count("id", filter=Q(possibly_billed=True)),
        )
        .order_by("user_id")
    )


# --- Queueing -----------------------------------------------------------------


def _draw_seed() -> int:
    return secrets.randbelow(SEED_MAX + 1)


def _enqueue(generation_id: int, *, countdown: float | None = None) -> None:
    enqueue_generation(generation_id, countdown=countdown)


def _enqueue_on_commit(generation: Generation) -> None:
    """Queue the job once its row is committed. When the broker is down the row is saved
    anyway: `start_delayed` tells the caller, and the sweeper queues it once the broker is
    back."""

    def enqueue() -> None:
        try:
            _enqueue(generation.pk)
        except Exception as exc:  # kombu and redis raise many kinds; all mean "not queued"
            generation.start_delayed = True
            log.warning("generation %s saved but not queued: %s", generation.pk, exc)

    transaction.on_commit(enqueue, robust=True)
