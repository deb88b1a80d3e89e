"""The shared token bucket against a real Redis: atomic, first in first out within a member,
fair between members, drained by a 429, and forgetting waiters that stopped asking."""

import threading
import time

import pytest

from gallery.services import pacing

pytestmark = pytest.mark.django_db


@pytest.fixture
def bucket(redis_url, settings):
    """A bucket of `burst` tokens refilling at (limit - 2 * burst) per minute."""

    def configure(*, limit: int, burst: int):
        settings.SEEDREAM_IPM_LIMIT, settings.SEEDREAM_IPM_BURST = limit, burst
        pacing.reset()

    yield configure
    pacing.reset()


def serve_in_turn(waiting: list[tuple[int, int]], *, limit_s: float = 20) -> list[int]:
    """Every waiting job asks again, latest first, until all are served; the order served."""
    served: list[int] = []
    deadline = time.monotonic() + limit_s
    while waiting and time.monotonic() < deadline:
        for job, member in reversed(list(waiting)):
            if pacing.take(job_id=job, member_id=member).granted:
                served.append(job)
                waiting.remove((job, member))
        time.sleep(0.02)
    return served


def test_concurrent_takes_never_hand_out_more_tokens_than_the_bucket_holds(bucket):
    bucket(limit=60, burst=10)  # refills 40 a minute: well under one token during the test
    granted = []
    start = threading.Barrier(40)

    def ask(job: int) -> None:
        start.wait()
        if pacing.take(job_id=job, member_id=job % 3).granted:
            granted.append(job)

    threads = [threading.Thread(target=ask, args=(job,)) for job in range(1, 41)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 10
    assert pacing.state().waiting == 30


def test_a_members_jobs_are_served_first_in_first_out(bucket):
    bucket(limit=302, burst=1)  # one token every 0.2 s
    assert pacing.take(job_id=1, member_id=7).granted
    waiting = [(job, 7) for job in range(2, 7)]
    for job, member in waiting:
        assert not pacing.take(job_id=job, member_id=member).granted
    assert serve_in_turn(waiting) == [2, 3, 4, 5, 6]


def test_a_teammates_single_image_does_not_wait_behind_a_large_batch(bucket):
    bucket(limit=302, burst=1)
    batch = [(job, 1) for job in range(1, 11)]  # alice's ten images, asked for first
    for job, member in batch:
        pacing.take(job_id=job, member_id=member)
    bob = (100, 2)
    assert not pacing.take(job_id=bob[0], member_id=bob[1]).granted
    served = serve_in_turn([*batch[1:], bob])  # alice's first image took the only token
    assert served == [2, 100, 3, 4, 5, 6, 7, 8, 9, 10]


def test_told_wait_grows_with_the_place_in_line(bucket):
    bucket(limit=302, burst=1)
    pacing.take(job_id=1, member_id=1)
    waits = [pacing.take(job_id=job, member_id=1).wait for job in (2, 3, 4)]
    assert waits == sorted(waits)
    assert waits[2] - waits[0] == pytest.approx(2 / pacing.refill_per_second(), rel=0.1)


def test_a_429_drains_the_bucket_for_its_retry_after(bucket):
    bucket(limit=6000, burst=60)  # 98 tokens a second: only the drain can hold anyone back
    assert pacing.take(job_id=1, member_id=1).granted
    assert pacing.drain(0.6) == pytest.approx(0.6, abs=0.05)
    turn = pacing.take(job_id=2, member_id=1)
    assert not turn.granted and turn.wait >= 0.5
    assert pacing.state().blocked_for > 0.4
    time.sleep(0.7)
    assert pacing.take(job_id=2, member_id=1).granted


def test_a_job_that_met_a_429_goes_back_to_the_front(bucket):
    bucket(limit=302, burst=1)
    pacing.take(job_id=1, member_id=1)
    for job in (2, 3, 4):
        pacing.take(job_id=job, member_id=1)
    pacing.take(job_id=9, member_id=1, front=True)
    assert serve_in_turn([(2, 1), (3, 1), (4, 1), (9, 1)])[0] == 9


def test_a_waiter_that_stops_asking_leaves_the_line(bucket, monkeypatch):
    monkeypatch.setattr(pacing, "LATE_GRACE_S", 0.1)
    bucket(limit=302, burst=1)
    pacing.take(job_id=1, member_id=1)
    pacing.take(job_id=2, member_id=1)  # then canceled: never asks again
    assert pacing.waiting_ids() == {2}
    assert serve_in_turn([(3, 2)]) == [3]
    assert pacing.waiting_ids() == set()


def test_nothing_paces_without_a_limit(redis_url, settings):
    settings.SEEDREAM_IPM_LIMIT = 0
    assert not pacing.enabled()
    assert pacing.waiting_ids() == set()


def test_a_waiter_late_back_lets_the_next_one_take_the_token_and_keeps_its_place(bucket):
    bucket(limit=302, burst=1)  # one token every 0.2 s
    pacing.take(job_id=1, member_id=1)
    first = pacing.take(job_id=2, member_id=1)  # told to come back in ~0.2 s; then is late
    assert not pacing.take(job_id=3, member_id=1).granted
    time.sleep(first.wait + pacing.LATE_SLACK_S + 0.1)
    assert pacing.take(job_id=3, member_id=1).granted
    assert pacing.waiting_ids() == {2}
    assert serve_in_turn([(2, 1), (4, 1)]) == [2, 4]
