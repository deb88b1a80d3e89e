"""Faults at the worst moments, with a real worker: PostgreSQL refusing connections right after
the provider answered, and a provider that resets the connection after reading the request."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from django.db import connection

from gallery.models import Generation, ProviderCall
from gallery.seedream.contract import GenerationParams
from gallery.services import generation as service

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

Status = Generation.Status


class TcpProxy:
    """Forwards a local port to PostgreSQL; `down()` refuses new connections and cuts the live
    ones, as a database restart does, until `up()`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.live: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.up()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        self.listener.close()
        for sock in self.live:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.live.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.live += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.close()
                except OSError:
                    pass


def wait_until(predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def database_proxy():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    params = connection.get_connection_params()
    proxy = TcpProxy((params.get("host") or "127.0.0.1", int(params.get("port") or 5432)))
    yield proxy
    proxy.down()


def test_an_answer_is_kept_through_a_database_outage_right_after_the_call(
    start_worker, emulator, alice, database_proxy, settings
):
    from django.conf import settings as django_settings

    name = connection.settings_dict["NAME"]
    base = django_settings.DATABASE_URL.rsplit("@", 1)[0]
    emulator.faults(count=1, kind="latency", latency_s=2.0, status=200)
    start_worker(concurrency=2, DATABASE_URL=f"{base}@127.0.0.1:{database_proxy.port}/{name}")
    generation = service.submit(user=alice, params=GenerationParams(prompt="through an outage"))[0]
    wait_until(
        lambda: Generation.objects.get(pk=generation.pk).status == Status.CALLING,
        timeout=30,
        what="the call to start",
    )
    database_proxy.down()  # the worker holds no connection during the call: the next is refused

    def answered() -> bool:
        return emulator.stats()["by_status"].get("200") == 1

    wait_until(answered, timeout=10, what="the provider's answer")
    time.sleep(3)  # the worker keeps retrying its write meanwhile
    database_proxy.up()
    wait_until(
        lambda: Generation.objects.get(pk=generation.pk).status == Status.SUCCEEDED,
        timeout=60,
        what="the job to finish",
    )
    assert emulator.stats()["requests"] == 1  # the answer was used, not bought again
    call = ProviderCall.objects.get(generation=generation)
    assert call.result is not None and call.generated_images == 1


def test_a_provider_reset_after_reading_the_request_costs_one_recorded_repeat(
    start_worker, emulator, alice
):
    emulator.faults(count=1, kind="reset")
    start_worker(concurrency=2)
    generation = service.submit(user=alice, params=GenerationParams(prompt="reset once"))[0]
    wait_until(
        lambda: Generation.objects.get(pk=generation.pk).status == Status.SUCCEEDED,
        timeout=60,
        what="the job to finish",
    )
    generation.refresh_from_db()
    assert generation.repeat_calls == 1
    assert emulator.stats()["requests"] == 2
    assert ProviderCall.objects.filter(generation=generation, possibly_billed=True).count() == 1
    (usage,) = service.usage_by_user()
    assert (usage["images"], usage["possibly_billed_calls"]) == (2, 1)


def test_jobs_lost_with_an_emptied_redis_run_after_the_next_sweeps(
    start_worker, emulator, alice, redis_url, settings
):
    import redis

    settings.GENERATION_STUCK_AFTER = 1
    emulator.faults(count=6, kind="latency", latency_s=0.5, status=200)
    start_worker(concurrency=2, GENERATION_PROVIDER_CONCURRENCY="1")
    rows = service.submit(
        user=alice, params=GenerationParams(prompt="after a restart"), variations=4
    ) + service.submit(user=alice, params=GenerationParams(prompt="after a restart 2"))
    wait_until(
        lambda: Generation.objects.filter(status=Status.CALLING).exists(),
        timeout=30,
        what="the first call",
    )
    redis.Redis.from_url(redis_url).flushall()  # Redis restarted without persistence
    time.sleep(1.5)
    deadline = time.monotonic() + 60
    while Generation.objects.filter(status__in=Generation.ACTIVE).exists():
        assert time.monotonic() < deadline, list(Generation.objects.values_list("status"))
        service.sweep_stuck()  # beat's job, every 30 s in production
        time.sleep(1)
    assert set(Generation.objects.values_list("status", flat=True)) == {Status.SUCCEEDED}
    assert emulator.stats()["requests"] == len(rows)  # nothing called twice
