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


def pattern_listeners(redis_url: str) -> int:
    """Connections subscribed to a pattern (the listeners; the tests above use channels)."""
    clients = redis.Redis.from_url(redis_url).client_list()
    return sum(1 for client in clients if int(client.get("psub", 0)) > 0)


def test_many_waits_in_one_loop_share_one_connection_and_all_wake(alice, redis_url, monkeypatch):
    monkeypatch.setattr(generation_events, "RECHECK_S", 60.0)
    jobs = [
        service.submit(user=alice, params=GenerationParams(prompt=f"kite {n}"))[0]
        for n in range(20)
    ]
    seen = {}

    async def wait_all():
        waits = [
            asyncio.ensure_future(generation_events.wait_finished(job.pk, timeout=30))
            for job in jobs
        ]
        await asyncio.sleep(1)  # every wait registered and past its first read
        seen["connections"] = await asyncio.to_thread(pattern_listeners, redis_url)
        await asyncio.to_thread(
            lambda: [service.cancel(user=alice, generation_id=job.pk) for job in jobs]
        )
        return await asyncio.gather(*waits)

    started = time.monotonic()
    finished = in_own_thread(asyncio.run, wait_all())
    assert seen["connections"] == 1
    assert {row.status for row in finished} == {Generation.Status.CANCELED}
    assert time.monotonic() - started < 30  # woken by messages, not the 60 s recheck


def test_waiters_hear_again_after_the_listeners_connection_is_killed(
    alice, queued, redis_url, monkeypatch
):
    monkeypatch.setattr(generation_events, "RECHECK_S", 60.0)
    admin = redis.Redis.from_url(redis_url)

    async def wait_through_a_kill():
        wait = asyncio.ensure_future(generation_events.wait_finished(queued.pk, timeout=30))
        await asyncio.sleep(0.5)
        assert await asyncio.to_thread(admin.client_kill_filter, _type="pubsub") == 1
        listener = generation_events._listener_of(asyncio.get_running_loop())
        await asyncio.wait_for(listener.subscribed.wait(), 10)  # subscribed again
        await asyncio.to_thread(service.cancel, user=alice, generation_id=queued.pk)
        return await wait

    started = time.monotonic()
    finished = in_own_thread(asyncio.run, wait_through_a_kill())
    assert finished.status == Generation.Status.CANCELED
    assert time.monotonic() - started < 30


def test_a_message_naming_no_generation_is_ignored(alice, queued, redis_url, monkeypatch):
    monkeypatch.setattr(generation_events, "RECHECK_S", 60.0)
    publisher = redis.Redis.from_url(redis_url)

    async def wait_past_junk():
        wait = asyncio.ensure_future(generation_events.wait_finished(queued.pk, timeout=30))
        await asyncio.sleep(0.5)
        for junk in ("seedgallery:generation:abc:finished", "seedgallery:generation::finished"):
            await asyncio.to_thread(publisher.publish, junk, "finished")
        await asyncio.sleep(0.3)
        assert not wait.done()  # nothing woke it for good, and the listener still runs
        await asyncio.to_thread(service.cancel, user=alice, generation_id=queued.pk)
        return await wait

    finished = in_own_thread(asyncio.run, wait_past_junk())
    assert finished.status == Generation.Status.CANCELED
