"""The daily quota stays exact when one member's submits race: the rows are written first and
counted under the member's row lock, so two submits never both pass when only one fits."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction

from gallery.models import Generation, MemberQuota
from gallery.seedream.contract import GenerationParams
from gallery.services import generation as service

pytestmark = pytest.mark.django_db(transaction=True)

Status = Generation.Status


@pytest.fixture(autouse=True)
def _broker(redis_url):
    """Submits queue their jobs on commit; no worker runs them here."""


def submit_in_thread(user, prompt: str, variations: int = 1):
    try:
        return service.submit(
            user=user, params=GenerationParams(prompt=prompt), variations=variations
        )
    except service.QuotaExceeded as exc:
        return exc
    finally:
        connections.close_all()  # this thread's own connection


def wait_until_blocked(count: int) -> None:
    """On PostgreSQL, until `count` other sessions wait for a lock; SQLite cannot say, so give
    the threads a moment to reach their BEGIN (the test passes either way, only weaker)."""
    if connection.vendor != "postgresql":
        time.sleep(0.5)
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
            if cursor.fetchone()[0] >= count:
                return
        time.sleep(0.02)
    raise AssertionError(f"{count} submits never waited for the member's row")


def test_two_submits_racing_for_the_last_image_admit_exactly_one(alice):
    MemberQuota.objects.create(user=alice, daily_image_limit=1)
    release = threading.Event()

    def hold_the_members_row():
        with transaction.atomic():
            get_user_model().objects.select_for_update().filter(pk=alice.pk).first()
            release.wait(30)
        connections.close_all()

    holder = threading.Thread(target=hold_the_members_row)
    holder.start()
    time.sleep(0.2)  # the holder has its lock before the submits start
    with ThreadPoolExecutor(max_workers=2) as pool:
        racing = [pool.submit(submit_in_thread, alice, f"kite {n}") for n in range(2)]
        wait_until_blocked(2)
        release.set()
        results = [future.result(timeout=60) for future in racing]
    holder.join()

    refused = [r for r in results if isinstance(r, service.QuotaExceeded)]
    admitted = [r for r in results if isinstance(r, list)]
    assert len(refused) == 1 and len(admitted) == 1
    assert refused[0].remaining == 0 and refused[0].limit == 1
    assert list(Generation.objects.values_list("pk", flat=True)) == [admitted[0][0].pk]


def test_eight_concurrent_submits_admit_exactly_the_limit(alice):
    MemberQuota.objects.create(user=alice, daily_image_limit=3)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: submit_in_thread(alice, f"kite {n}"), range(8)))
    assert sum(isinstance(r, list) for r in results) == 3
    assert sum(isinstance(r, service.QuotaExceeded) for r in results) == 5
    assert Generation.objects.filter(user=alice).count() == 3
    assert service.images_left_today(alice) == 0


def test_variations_over_what_is_left_are_refused_whole_and_leave_no_row(alice):
    MemberQuota.objects.create(user=alice, daily_image_limit=3)
    service.submit(user=alice, params=GenerationParams(prompt="first"))
    with pytest.raises(service.QuotaExceeded) as refused:
        service.submit(user=alice, params=GenerationParams(prompt="three"), variations=3)
    assert (refused.value.requested, refused.value.remaining, refused.value.limit) == (3, 2, 3)
    assert "3 images but have 2 of your 3" in refused.value.message
    assert Generation.objects.count() == 1
    assert len(service.submit(user=alice, params=GenerationParams(prompt="two"), variations=2)) == 2
    assert service.images_left_today(alice) == 0


def test_canceled_and_unanswered_failures_leave_room_for_a_submit(alice):
    MemberQuota.objects.create(user=alice, daily_image_limit=1)
    (canceled,) = service.submit(user=alice, params=GenerationParams(prompt="canceled"))
    assert service.cancel(user=alice, generation_id=canceled.pk)
    (failed,) = service.submit(user=alice, params=GenerationParams(prompt="failed"))
    Generation.objects.filter(pk=failed.pk).update(status=Status.FAILED, error_code="timeout")
    (admitted,) = service.submit(user=alice, params=GenerationParams(prompt="counted"))
    with pytest.raises(service.QuotaExceeded):
        service.submit(user=alice, params=GenerationParams(prompt="one too many"))
    assert Generation.objects.filter(status=Status.QUEUED).get() == admitted
