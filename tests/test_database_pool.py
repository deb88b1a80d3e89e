"""DATABASE_POOL_MAX_SIZE: a PostgreSQL worker's threads share a few pooled connections."""

import threading
import time

import pytest
from django.db import connection

from gallery.models import Generation
from gallery.seedream.contract import GenerationParams
from gallery.services import generation as service
from tests.test_settings import probe_json

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the pool is psycopg's, for PostgreSQL"
)

POOL_PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "db = settings.DATABASES['default']; "
    "print(json.dumps({'age': db['CONN_MAX_AGE'], 'pool': db.get('OPTIONS', {}).get('pool'), "
    "'checks': db['CONN_HEALTH_CHECKS']}))"
)
URL = "postgres://postgres@127.0.0.1:5432/seedgallery"


def test_without_the_setting_connections_are_persistent_and_unpooled():
    assert probe_json(POOL_PROBE, DATABASE_URL=URL) == {"age": 60, "pool": None, "checks": True}


def test_the_setting_pools_connections_and_keeps_them_checked():
    seen = probe_json(POOL_PROBE, DATABASE_URL=URL, DATABASE_POOL_MAX_SIZE="12")
    assert seen == {
        "age": 0,  # Django refuses persistent connections beside a pool
        "pool": {"min_size": 4, "max_size": 12, "timeout": 30.0},
        "checks": True,  # every connection taken from the pool is checked first
    }


def backends_of(database: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [database],
        )
        return cursor.fetchone()[0]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_threaded_worker_runs_its_jobs_on_the_pools_few_connections(
    start_worker, emulator, alice
):
    jobs, pool = 16, 3
    emulator.faults(count=jobs, kind="latency", latency_s=0.6, status=200)
    database = connection.settings_dict["NAME"]
    before = backends_of(database)
    start_worker(
        concurrency=jobs, GENERATION_PROVIDER_CONCURRENCY="8", DATABASE_POOL_MAX_SIZE=str(pool)
    )
    for i in range(jobs):
        service.submit(user=alice, params=GenerationParams(prompt=f"pooled {i}", seed=i))

    peak, done = 0, threading.Event()

    def sample() -> None:  # on its own connection, which the count leaves out
        nonlocal peak
        try:
            while not done.is_set():
                peak = max(peak, backends_of(database) - before)
                time.sleep(0.02)
        finally:
            connection.close()

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        deadline = time.monotonic() + 90
        while Generation.objects.filter(status__in=Generation.ACTIVE).exists():
            assert time.monotonic() < deadline, "jobs did not settle"
            time.sleep(0.2)
    finally:
        done.set()
        sampler.join()
    assert Generation.objects.filter(status=Generation.Status.SUCCEEDED).count() == jobs
    # 16 threads, 8 calls at a time, yet no more server connections than the pool's size
    # (plus this test's own, which the baseline did not count).
    assert 1 <= peak <= pool + 1
