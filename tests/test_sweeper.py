"""The sweeper re-queues jobs stuck past their deadline and fails those that cannot go on."""

import json
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from gallery.models import Generation
from gallery.services import generation as service
from gallery.tasks import sweep_stuck_generations

pytestmark = pytest.mark.django_db

Status = Generation.Status


@pytest.fixture
def queue(redis_url):
    """The Celery queue in the test Redis, emptied first."""
    client = redis.Redis.from_url(redis_url)
    client.delete("celery")

    def queued_ids() -> list[int]:
        messages = [json.loads(raw) for raw in client.lrange("celery", 0, -1)]
        return sorted(json.loads(_body(m))[0][0] for m in messages)

    return queued_ids


def _body(message: dict) -> str:
    import base64

    return base64.b64decode(message["body"]).decode()


def make(user, status, *, age_s: float, **fields) -> Generation:
    return Generation.objects.create(
        user=user,
        prompt="stuck",
        model="doubao-seedream-3-0-t2i-250415",
        width=1024,
        height=1024,
        seed=1,
        guidance_scale=2.5,
        status=status,
        status_changed_at=timezone.now() - timedelta(seconds=age_s),
        **fields,
    )


def test_stuck_jobs_are_queued_again(alice, queue, settings):
    settings.GENERATION_STUCK_AFTER = 600
    stuck = [make(alice, s, age_s=700, provider_attempts=1) for s in Generation.ACTIVE]
    fresh = make(alice, Status.QUEUED, age_s=10)
    done = make(alice, Status.SUCCEEDED, age_s=7000)
    assert sweep_stuck_generations() == {"requeued": 3, "failed": 0}
    assert queue() == sorted(g.pk for g in stuck)
    for generation in stuck:
        generation.refresh_from_db()
        if generation.status == Status.CALLING:  # left past its lease, for the next run
            assert timezone.now() - generation.status_changed_at > timedelta(seconds=600)
        else:
            assert timezone.now() - generation.status_changed_at < timedelta(seconds=5)
    fresh.refresh_from_db()
    done.refresh_from_db()
    assert (fresh.status, done.status) == (Status.QUEUED, Status.SUCCEEDED)


def test_a_second_sweep_does_not_queue_the_same_job_again(alice, queue):
    make(alice, Status.QUEUED, age_s=7000)
    service.sweep_stuck()
    assert service.sweep_stuck() == {"requeued": 0, "failed": 0}
    assert len(queue()) == 1


def test_stuck_jobs_out_of_attempts_fail_with_a_clear_error(alice, queue, settings):
    settings.GENERATION_MAX_PROVIDER_ATTEMPTS = 3
    calling = make(alice, Status.CALLING, age_s=7000, provider_attempts=3)
    assert service.sweep_stuck() == {"requeued": 0, "failed": 1}
    calling.refresh_from_db()
    assert calling.status == Status.FAILED
    assert calling.error_code == "stuck"
    assert "ran out of attempts" in calling.error_message
    assert queue() == []


def test_answered_job_past_the_link_lifetime_fails_as_expired(alice, queue):
    fetched = make(
        alice,
        Status.FETCHED,
        age_s=7000,
        provider_result={"url": "https://example.invalid/x.jpeg"},
        provider_answered_at=timezone.now() - timedelta(days=2),
    )
    service.sweep_stuck()
    fetched.refresh_from_db()
    assert fetched.status == Status.FAILED
    assert fetched.error_code == "provider_url_expired"
    assert queue() == []


def test_beat_schedules_the_sweeper_often_enough_to_recover_within_two_minutes(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-stuck-generations"]
    assert entry == {"task": "gallery.sweep_stuck_generations", "schedule": 30.0}
    lease = service.call_lease().total_seconds()
    assert lease + entry["schedule"] <= 120  # a worker killed mid-call
    assert settings.GENERATION_STUCK_AFTER + entry["schedule"] <= 120  # a lost message
    from config.celery import app

    app.loader.import_default_modules()
    assert "gallery.sweep_stuck_generations" in app.tasks


def test_a_job_waiting_its_turn_in_a_backlog_keeps_its_one_message(alice, queue, redis_url):
    waiting = make(alice, Status.QUEUED, age_s=7000)
    service._enqueue(waiting.pk)
    assert service.sweep_stuck() == {"requeued": 0, "failed": 0}
    assert queue() == [waiting.pk]


def test_a_queued_job_whose_message_was_lost_is_queued_after_a_short_deadline(
    alice, queue, settings
):
    settings.GENERATION_STUCK_AFTER = 60
    lost = make(alice, Status.QUEUED, age_s=61)
    recent = make(alice, Status.QUEUED, age_s=30)
    backing_off = make(alice, Status.QUEUED, age_s=600,
                       next_attempt_at=timezone.now() - timedelta(seconds=10))  # fmt: skip
    assert service.sweep_stuck() == {"requeued": 1, "failed": 0}
    assert queue() == [lost.pk]
    for row in (recent, backing_off):
        row.refresh_from_db()
        assert row.status == Status.QUEUED


def test_a_calling_job_is_queued_once_its_lease_has_passed_not_before(alice, queue):
    lease = service.call_lease().total_seconds()
    cut_off = make(alice, Status.CALLING, age_s=lease + 1, provider_attempts=1)
    in_flight = make(alice, Status.CALLING, age_s=lease - 5, provider_attempts=1)
    assert service.sweep_stuck() == {"requeued": 1, "failed": 0}
    assert queue() == [cut_off.pk]
    # A second sweep while its message waits adds nothing.
    assert service.sweep_stuck() == {"requeued": 0, "failed": 0}
    assert queue() == [cut_off.pk]
    in_flight.refresh_from_db()
    assert in_flight.status == Status.CALLING


def test_a_cut_off_job_out_of_attempts_fails_and_its_call_counts_as_billed(alice, queue, settings):
    from gallery.models import ProviderCall

    settings.GENERATION_MAX_PROVIDER_ATTEMPTS = 2
    row = make(alice, Status.CALLING, age_s=7000, provider_attempts=2)
    call = ProviderCall.objects.create(generation=row, user=alice)
    assert service.sweep_stuck() == {"requeued": 0, "failed": 1}
    call.refresh_from_db()
    assert (call.possibly_billed, call.error_code) == (True, "cut_off")
    row.refresh_from_db()
    assert "Retry to try again" in row.error_message


def test_an_early_message_does_not_skip_the_backoff(alice, queue):
    row = make(
        alice, Status.QUEUED, age_s=1, next_attempt_at=timezone.now() + timedelta(seconds=30)
    )
    outcome = service.run(row.pk)
    assert outcome.status == Status.QUEUED
    assert 25 < outcome.retry_in <= 30
    row.refresh_from_db()
    assert (row.status, row.provider_attempts) == (Status.QUEUED, 0)
