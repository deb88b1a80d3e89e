"""The pipeline end to end with a real Celery worker: jobs finish, and a worker killed mid-flight
costs at most the calls it cut off."""

import base64
import itertools
import json
import os
import signal
import time

import pytest
import redis

from gallery.models import Generation, Image, ProviderCall
from gallery.seedream.contract import GenerationParams
from gallery.services import generation as service
from gallery.storage import media_storage

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

Status = Generation.Status


def wait_until(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    statuses = list(Generation.objects.values_list("id", "status", "error_code"))
    raise AssertionError(f"timed out waiting for {what}: {statuses}")


def all_settled() -> bool:
    return not Generation.objects.filter(status__in=Generation.ACTIVE).exists()


def stored_originals() -> list[str]:
    storage = media_storage()
    paginator = storage.connection.meta.client.get_paginator("list_objects_v2")
    keys = []
    for page in paginator.paginate(Bucket=storage.bucket_name, Prefix="originals/"):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


@pytest.fixture
def empty_bucket(s3_server):
    storage = media_storage()
    client = storage.connection.meta.client
    for key in stored_originals():
        client.delete_object(Bucket=storage.bucket_name, Key=key)


def test_worker_takes_a_submitted_job_to_a_stored_image(
    start_worker, emulator, alice, empty_bucket
):
    start_worker(concurrency=4)
    rows = service.submit(
        user=alice, params=GenerationParams(prompt="a red kite", size="864x1152"), variations=2
    )
    wait_until(all_settled, timeout=60, what="two jobs")
    assert set(Generation.objects.values_list("status", flat=True)) == {Status.SUCCEEDED}
    assert Image.objects.filter(generation__in=rows).count() == 2
    assert len(stored_originals()) == 2
    assert emulator.stats()["requests"] == 2


def test_worker_keeps_provider_calls_within_its_call_slots(
    start_worker, emulator, alice, empty_bucket
):
    jobs = 6
    emulator.faults(count=jobs, kind="latency", latency_s=0.8, status=200)
    start_worker(concurrency=jobs, GENERATION_PROVIDER_CONCURRENCY="2")
    for i in range(jobs):
        service.submit(user=alice, params=GenerationParams(prompt=f"slot {i}", seed=i))
    wait_until(all_settled, timeout=60, what="six jobs")

    assert Generation.objects.filter(status=Status.SUCCEEDED).count() == jobs
    # The most calls in flight at once: +1 at each start, -1 at each end (ends first on ties).
    calls = ProviderCall.objects.values_list("started_at", "finished_at")
    events = sorted([(start, 1) for start, _ in calls] + [(end, -1) for _, end in calls])
    in_flight = list(itertools.accumulate(change for _, change in events))
    assert max(in_flight) == 2


def test_killed_worker_never_pays_twice_for_an_answered_job(
    start_worker, emulator, alice, empty_bucket
):
    concurrency = 8
    jobs = 30
    emulator.faults(count=jobs, kind="latency", latency_s=1.0, status=200)
    fast_redelivery = {
        # Just over the lease (6 + 5 s) plus the longest retry delay (0.5 s in tests).
        "CELERY_VISIBILITY_TIMEOUT": "12",
        "CELERY_UNACKED_RESTORE_INTERVAL": "1",
        "SEEDREAM_READ_TIMEOUT": "4",
        "SEEDREAM_CONNECT_TIMEOUT": "1",
        "SEEDREAM_TOTAL_TIMEOUT": "6",
    }
    first = start_worker(concurrency=concurrency, **fast_redelivery)
    for i in range(jobs):
        service.submit(user=alice, params=GenerationParams(prompt=f"kite {i}", seed=1000 + i))
    wait_until(
        lambda: Generation.objects.filter(status=Status.CALLING).count() >= concurrency // 2,
        timeout=30,
        what="calls in flight",
    )
    first.kill()
    cut_off = Generation.objects.filter(status=Status.CALLING).count()
    answered_before_kill = set(
        Generation.objects.exclude(provider_result=None).values_list("id", flat=True)
    )
    start_worker(concurrency=concurrency, **fast_redelivery)
    wait_until(all_settled, timeout=120, what="all jobs after the crash")

    assert Generation.objects.filter(status=Status.SUCCEEDED).count() == jobs
    assert len(stored_originals()) == jobs
    repeats = sum(Generation.objects.values_list("repeat_calls", flat=True))
    assert repeats <= min(cut_off, concurrency)
    assert ProviderCall.objects.count() == jobs + repeats
    # Every call cut off by the kill is closed and counted as possibly billed.
    assert not ProviderCall.objects.filter(finished_at=None).exists()
    assert ProviderCall.objects.filter(possibly_billed=True).count() == repeats
    assert sum(row["images"] for row in service.usage_by_user()) == jobs + repeats
    assert jobs <= emulator.stats()["requests"] <= jobs + repeats
    for generation_id in answered_before_kill:
        assert not ProviderCall.objects.filter(generation_id=generation_id, is_repeat=True).exists()
    # Every job was answered exactly once.
    answered = ProviderCall.objects.filter(http_status=200).values_list("generation_id", flat=True)
    assert sorted(answered) == sorted(Generation.objects.values_list("id", flat=True))


def test_a_worker_refuses_to_start_when_redis_would_redeliver_live_calls(start_worker):
    with pytest.raises(RuntimeError) as caught:
        start_worker(concurrency=1, CELERY_VISIBILITY_TIMEOUT="30")  # lease alone is 80 s
    assert "CELERY_VISIBILITY_TIMEOUT (30 s) must exceed" in str(caught.value)


def test_a_production_worker_refuses_to_start_without_a_provider_key(start_worker):
    with pytest.raises(RuntimeError) as caught:
        start_worker(concurrency=1, SEEDREAM_API_KEY="", DEBUG="0")
    assert "SEEDREAM_API_KEY is empty" in str(caught.value)


def test_warm_shutdown_finishes_the_call_in_flight_and_hands_the_rest_back(
    start_worker, emulator, alice, empty_bucket, redis_url
):
    emulator.faults(count=4, kind="latency", latency_s=3.0, status=200)
    worker = start_worker(concurrency=4, GENERATION_PROVIDER_CONCURRENCY="1")
    rows = [
        service.submit(user=alice, params=GenerationParams(prompt=f"shut {i}", seed=i))[0]
        for i in range(4)
    ]
    wait_until(
        lambda: Generation.objects.filter(status=Status.CALLING).exists(),
        timeout=30,
        what="the first call",
    )
    time.sleep(0.5)  # the other three are waiting for the one call slot
    os.killpg(worker.proc.pid, signal.SIGTERM)
    worker.proc.wait(30)
    assert emulator.stats()["requests"] == 1
    statuses = dict(Generation.objects.values_list("id", "status"))
    finished = [pk for pk, status in statuses.items() if status == Status.SUCCEEDED]
    assert len(finished) == 1
    handed_back = sorted(set(r.pk for r in rows) - set(finished))
    assert all(statuses[pk] == Status.QUEUED for pk in handed_back)
    assert not ProviderCall.objects.filter(generation_id__in=handed_back).exists()
    client = redis.Redis.from_url(redis_url)
    messages = [json.loads(raw) for raw in client.lrange("celery", 0, -1)]
    queued = sorted(json.loads(base64.b64decode(m["body"]))[0][0] for m in messages)
    assert queued == handed_back
