"""Pacing with a real Celery worker: a job that meets a 429 waits for the provider's window and
then succeeds on its own, with no retry by anyone and no attempt used up."""

import time

import pytest

from gallery.models import Generation, ProviderCall
from gallery.seedream.contract import GenerationParams
from gallery.services import generation as service
from gallery.services import pacing

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

Status = Generation.Status


def wait_settled(generation: Generation, *, timeout: float) -> Generation:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        generation.refresh_from_db()
        if generation.status in Generation.TERMINAL:
            return generation
        time.sleep(0.2)
    raise AssertionError(f"still {generation.status} after {timeout} s")


@pytest.fixture
def fresh_bucket(redis_url, settings):
    settings.SEEDREAM_IPM_LIMIT = 600
    pacing.reset()
    yield
    pacing.reset()


def test_a_job_that_meets_a_429_waits_and_succeeds_without_a_retry(
    start_worker, emulator, alice, fresh_bucket
):
    emulator.faults(count=1, status=429, code="ModelAccountIpmRateLimitExceeded")
    start_worker(concurrency=4, SEEDREAM_IPM_LIMIT="600", SEEDREAM_RATE_LIMIT_WAIT="2")
    generation = service.submit(user=alice, params=GenerationParams(prompt="a paper boat"))[0]
    generation = wait_settled(generation, timeout=60)
    assert generation.status == Status.SUCCEEDED
    assert generation.retried_at is None
    assert generation.provider_attempts == 1
    limited, answered = ProviderCall.objects.filter(generation=generation).order_by("id")
    assert (limited.http_status, answered.http_status) == (429, 200)
    assert limited.provider_error_code == "ModelAccountIpmRateLimitExceeded"
    waited = (answered.started_at - limited.finished_at).total_seconds()
    assert waited >= 1.9  # the bucket stayed drained for SEEDREAM_RATE_LIMIT_WAIT
    assert emulator.stats()["by_status"] == {"429": 1, "200": 1}


def test_paced_jobs_are_spread_at_the_buckets_rate_and_all_succeed(
    start_worker, tmp_path, alice, bob, fresh_bucket
):
    from tests.fixtures.emulator import running_emulator

    with running_emulator(tmp_path, "--ipm", "120") as limited:
        # 120 a minute with a burst of 4: the first 4 at once, then one every 0.54 s.
        start_worker(
            concurrency=8,
            SEEDREAM_BASE_URL=limited.base_url,
            SEEDREAM_IPM_LIMIT="120",
            SEEDREAM_IPM_BURST="4",
        )
        rows = [
            *service.submit(user=alice, params=GenerationParams(prompt="a kite"), variations=4),
            *service.submit(user=alice, params=GenerationParams(prompt="a kite"), variations=4),
            *service.submit(user=bob, params=GenerationParams(prompt="a boat"), variations=2),
        ]
        started = time.monotonic()
        for row in rows:
            assert wait_settled(row, timeout=60).status == Status.SUCCEEDED
        took = time.monotonic() - started
        stats = limited.stats()
    assert stats["by_status"] == {"200": 10}
    assert took >= 6 * 60 / (120 - 8) * 0.9  # four at once, six paced
