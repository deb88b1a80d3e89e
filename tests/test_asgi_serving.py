"""Serving under ASGI: the middleware chain stays async, so a waiting gateway request holds
no thread, and the production command (gunicorn with uvicorn workers) serves the app."""

import asyncio
import json
import logging
import os
import sys
import threading

import pytest
import requests
from asgiref.sync import sync_to_async

from config.asgi import GalleryASGIHandler
from gallery import devstack
from gallery.models import Generation
from gallery.services import generation as generation_service
from tests.fixtures.gateway import in_own_thread

pytestmark = pytest.mark.django_db(transaction=True)


def test_no_middleware_forces_the_async_chain_into_a_thread(caplog, settings):
    settings.DEBUG = True  # Django names each adapted handler in debug mode only
    caplog.set_level(logging.DEBUG, logger="django.request")
    GalleryASGIHandler()
    adapted = [r.getMessage() for r in caplog.records if "adapted" in r.getMessage()]
    assert adapted == []


def http_scope(path: str, method: str, headers: dict[str, str]) -> dict:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip


def test_many_waiting_gateway_requests_cost_a_few_threads(alice, alice_token, redis_url, settings):
    """40 requests wait for their images at once (no worker runs); then the member cancels
    the jobs and every wait ends with the cancellation."""
    settings.GATEWAY_WAIT_TIMEOUT = 30.0
    app = GalleryASGIHandler()
    body = json.dumps({"model": settings.SEEDREAM_MODEL, "prompt": "a kite"}).encode()
    headers = {"Host": "127.0.0.1", "Authorization": f"Bearer {alice_token}",
               "Content-Type": "application/json", "Content-Length": str(len(body))}  # fmt: skip
    requests_at_once = 40
    before = threading.active_count()

    async def one() -> int:
        sent = []
        delivered = asyncio.Event()
        hang_up = asyncio.Event()  # never set: the client stays for the answer

        async def receive():
            if not delivered.is_set():
                delivered.set()
                return {"type": "http.request", "body": body, "more_body": False}
            await hang_up.wait()

        async def send(message):
            sent.append(message)

        await app(http_scope("/v1/images/generations", "POST", headers), receive, send)
        return sent[0]["status"]

    def queued() -> list[int]:
        return list(Generation.objects.filter(status="queued").values_list("pk", flat=True))

    def cancel_all(ids: list[int]) -> None:
        for generation_id in ids:
            generation_service.cancel(user=alice, generation_id=generation_id)

    async def run() -> tuple[list[int], int]:
        tasks = [asyncio.create_task(one()) for _ in range(requests_at_once)]
        for _ in range(150):  # every request has made its job and is waiting on it
            waiting = await sync_to_async(queued, thread_sensitive=False)()
            if len(waiting) == requests_at_once:
                break
            await asyncio.sleep(0.1)
        assert len(waiting) == requests_at_once, "the requests did not all wait at once"
        await asyncio.sleep(0.5)
        peak = threading.active_count()
        await sync_to_async(cancel_all, thread_sensitive=False)(waiting)
        return await asyncio.wait_for(asyncio.gather(*tasks), timeout=30), peak

    statuses, peak = in_own_thread(asyncio.run, run())
    assert statuses == [409] * requests_at_once  # each woke on its job's cancellation
    pool = min(32, (os.cpu_count() or 1) + 4)  # asyncio's default executor
    assert peak - before <= pool + 3 < requests_at_once  # + this test's own loop thread


def test_gunicorn_with_uvicorn_workers_serves_the_app(tmp_path, service_env):
    port = devstack.free_port()
    argv = [sys.executable, "-m", "gunicorn", "config.asgi:application", "--worker-class",
            "uvicorn_worker.UvicornWorker", "--bind", f"127.0.0.1:{port}", "--workers", "1"]  # fmt: skip
    proc = devstack.start(argv, log_path=tmp_path / "gunicorn.log", env=service_env)
    try:
        devstack.wait_for_port(port, proc=proc, timeout=30)
        response = requests.get(f"http://127.0.0.1:{port}/v1/models", timeout=10)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "AuthenticationError"
    finally:
        devstack.stop(proc)
    assert "Traceback" not in (tmp_path / "gunicorn.log").read_text()
