"""Generation events: the pipeline publishes when a job reaches a final state, and a waiter
wakes on that message rather than on its periodic re-read of the row."""

import asyncio
import threading
import time

import pytest
import redis

from gallery.models import Generation
from gallery.seedream.contract import GenerationParams
from gallery.services import generation as service
from gallery.services import generation_events
from tests.fixtures.gateway import in_own_thread

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def queued(alice, redis_url):
    with_commit = service.submit(user=alice, params=GenerationParams(prompt="a red kite"))
    return with_commit[0]


def subscribed(redis_url: str, generation_id: int):
    pubsub = redis.Redis.from_url(redis_url).pubsub()
    pubsub.subscribe(generation_events.channel(generation_id))
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    return pubsub


def test_canceling_a_job_publishes_its_end(alice, queued, redis_url):
    pubsub = subscribed(redis_url, queued.pk)
    assert service.cancel(user=alice, generation_id=queued.pk)
    message = pubsub.get_message(timeout=5)
    assert message is not None and message["type"] == "message"


def test_failing_a_job_publishes_its_end(queued, redis_url):
    pubsub = subscribed(redis_url, queued.pk)
    service._fail(queued.pk, Generation.Status.QUEUED, "stuck", "Gave up.")
    assert pubsub.get_message(timeout=5)["type"] == "message"


def test_a_job_that_did_not_change_publishes_nothing(alice, queued, redis_url):
    pubsub = subscribed(redis_url, queued.pk)
    Generation.objects.filter(pk=queued.pk).update(status=Generation.Status.CALLING)
    assert not service.cancel(user=alice, generation_id=queued.pk)  # not queued any more
    assert pubsub.get_message(timeout=0.5) is None


def test_a_waiter_wakes_on_the_message_not_on_its_recheck(alice, queued, monkeypatch):
    monkeypatch.setattr(generation_events, "RECHECK_S", 60.0)

    def cancel_soon():
        time.sleep(0.5)
        service.cancel(user=alice, generation_id=queued.pk)

    threading.Thread(target=cancel_soon).start()
    started = time.monotonic()
    finished = in_own_thread(asyncio.run, generation_events.wait_finished(queued.pk, timeout=30))
    assert finished.status == Generation.Status.CANCELED
    assert time.monotonic() - started < 20  # far below the 60 s recheck and 30 s timeout


def test_a_lost_message_is_caught_by_the_recheck(queued, monkeypatch):
    monkeypatch.setattr(generation_events, "RECHECK_S", 0.2)
    Generation.objects.filter(pk=queued.pk).update(status=Generation.Status.FAILED)  # no publish
    finished = in_own_thread(asyncio.run, generation_events.wait_finished(queued.pk, timeout=30))
    assert finished.status == Generation.Status.FAILED


def test_a_wait_past_its_timeout_returns_the_row_as_it_stands(queued):
    finished = in_own_thread(asyncio.run, generation_events.wait_finished(queued.pk, timeout=0.3))
    assert finished.status == Generation.Status.QUEUED
