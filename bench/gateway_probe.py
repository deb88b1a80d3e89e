"""The gateway's ASGI application with per-request stage timestamps, for bench_gateway.py.

Served instead of config.asgi when GATEWAY_PROBE_LOG names a file: each answered
`POST /v1/images/generations` appends one JSON line with wall-clock times (time.time()) of
received, token checked, submit returned (committed and queued), finish heard and answer
sent, plus how long each executor step waited for a thread and ran in it. Only the module
attributes of the gateway view are wrapped; the view itself is unchanged.
"""

from __future__ import annotations

import contextvars
import cProfile
import functools
import json
import os
import pstats
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asgiref.sync import SyncToAsync  # noqa: E402

from config.asgi import application as gallery_application  # noqa: E402
from gallery.services import generation as generation_service  # noqa: E402
from gallery.services import generation_events  # noqa: E402
from gallery.views import gateway  # noqa: E402

LOG = open(os.environ["GATEWAY_PROBE_LOG"], "a", buffering=1)  # noqa: SIM115
record: contextvars.ContextVar[dict | None] = contextvars.ContextVar("record", default=None)


def _timed_async(name: str, func):
    """Stamp `name` when the awaited step returns."""

    @functools.wraps(func)
    async def wrapper(*args, **kwargs):
        result = await func(*args, **kwargs)
        stamps = record.get()
        if stamps is not None:
            stamps[name] = time.time()
            if name == "submitted":
                stamps["generation"] = result[0].pk
        return result

    return wrapper


def _timed_thread(name: str, sync_to_async_func):
    """Split an executor step into its wait for a thread and its run in the thread."""
    inner = sync_to_async_func.func

    @functools.wraps(inner)
    def run(*args, **kwargs):
        stamps = record.get()
        began = time.time()
        try:
            return inner(*args, **kwargs)
        finally:
            if stamps is not None:
                stamps.setdefault("threads", []).append((name, began, time.time()))

    sync_to_async_func.func = run
    return sync_to_async_func


def _timed_call(name: str, func):
    """Stamp a plain function's start and end in the request's record."""

    @functools.wraps(func)
    def run(*args, **kwargs):
        stamps = record.get()
        began = time.time()
        try:
            return func(*args, **kwargs)
        finally:
            if stamps is not None:
                stamps.setdefault("threads", []).append((name, began, time.time()))

    return run


# Inside submit: the quota check (lock and count) and the enqueue after the commit.
generation_service._check_quota = _timed_call("quota check", generation_service._check_quota)
generation_service._enqueue = _timed_call("enqueue", generation_service._enqueue)
# The first count after the member's row is locked: where the lock was acquired.
for counted in ("images_left_today", "images_used_today"):
    setattr(
        generation_service,
        counted,
        _timed_call("counted", getattr(generation_service, counted)),
    )
for step in ("authenticate", "submit", "stored_bytes"):
    _timed_thread(step, getattr(gateway, step))
_timed_thread("load_generation", generation_events.load_generation)
gateway.authenticate = _timed_async("token_checked", gateway.authenticate)
gateway.submit = _timed_async("submitted", gateway.submit)
gateway.wait_finished = _timed_async("heard", gateway.wait_finished)


_sync_to_async_call = SyncToAsync.__call__


async def _counted_hop(self, *args, **kwargs):
    """Count the request's thread hops: to Django's one shared thread, or to the pool."""
    stamps = record.get()
    if stamps is not None:
        kind = "hops_shared" if self._thread_sensitive else "hops_pool"
        stamps[kind] = stamps.get(kind, 0) + 1
    return await _sync_to_async_call(self, *args, **kwargs)


SyncToAsync.__call__ = _counted_hop

# With GATEWAY_PROBE_PROFILE: every thread's CPU time (time.thread_time) by function, from
# import on; `GET /probe/profile` writes the merged stats to that file.
profiles: list[cProfile.Profile] = []


def _profile_thread(*_) -> None:
    profile = cProfile.Profile(time.thread_time)
    profiles.append(profile)
    profile.enable()


if os.environ.get("GATEWAY_PROBE_PROFILE"):
    threading.setprofile(_profile_thread)
    _profile_thread()


async def application(scope, receive, send):
    if scope["type"] == "http" and scope["path"] == "/probe/profile":
        stats = pstats.Stats(*profiles)
        stats.dump_stats(os.environ["GATEWAY_PROBE_PROFILE"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    if scope["type"] != "http" or scope["path"] != "/v1/images/generations":
        await gallery_application(scope, receive, send)
        return
    stamps = {"received": time.time()}
    record.set(stamps)

    async def timed_send(message):
        await send(message)
        if message["type"] == "http.response.start":
            stamps["status"] = message["status"]
        if message["type"] == "http.response.body" and not message.get("more_body"):
            stamps["sent"] = time.time()
            LOG.write(json.dumps(stamps) + "\n")

    await gallery_application(scope, receive, timed_send)
