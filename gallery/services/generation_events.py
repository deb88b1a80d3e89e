"""Generation events over Redis pub/sub: the pipeline says when a job reaches a final state,
and the gateway's async view waits for that instead of polling the database.

The row stays the truth: a waiter subscribes first, then reads the row, and re-reads it
every RECHECK_S seconds in case a message was lost (Redis restarted, a worker died between
its commit and its publish).
"""

from __future__ import annotations

import asyncio
import logging
import weakref

import redis
from asgiref.sync import sync_to_async
from django.db import close_old_connections, transaction

from gallery.models import Generation
from gallery.redis_connection import async_client, sync_client

log = logging.getLogger(__name__)

RECHECK_S = 5.0


def channel(generation_id: int) -> str:
    return f"seedgallery:generation:{generation_id}:finished"


def generation_finished(generation_id: int) -> None:
    """Tell waiters that a generation reached succeeded, failed or canceled, once the
    current transaction (if any) commits."""
    transaction.on_commit(lambda: _publish(generation_id))


def _publish(generation_id: int) -> None:
    try:
        sync_client().publish(channel(generation_id), "finished")
    except redis.RedisError as exc:  # waiters re-read the row every RECHECK_S seconds
        log.warning("generation %s: finish not published: %s", generation_id, exc)


def _load(generation_id: int) -> Generation | None:
    close_old_connections()  # executor threads outlive requests: drop stale connections
    return Generation.objects.select_related("image").filter(pk=generation_id).first()


load_generation = sync_to_async(_load, thread_sensitive=False)

# One asyncio client per event loop, shared by its waiters: building one costs about a
# millisecond of CPU, which 100 concurrent waits paid each. Each pub/sub still has its own
# connection (closing a pub/sub disconnects it).
_loop_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _client_of(loop: asyncio.AbstractEventLoop):
    client = _loop_clients.get(loop)
    if client is None:
        client = _loop_clients[loop] = async_client()
    return client


async def wait_finished(generation_id: int, *, timeout: float) -> Generation | None:
    """The generation once it is final, or as it stands when `timeout` seconds have passed
    (None if it no longer exists)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pubsub = _client_of(loop).pubsub()
    try:
        try:
            await pubsub.subscribe(channel(generation_id))
        except redis.RedisError as exc:
            log.warning("generation %s: waiting without Redis: %s", generation_id, exc)
            pubsub = None
        while True:
            generation = await load_generation(generation_id)
            if generation is None or generation.status in Generation.TERMINAL:
                return generation
            left = deadline - loop.time()
            if left <= 0:
                return generation
            await _next_message(pubsub, min(left, RECHECK_S))
    finally:
        if pubsub is not None:
            await _quietly(pubsub.aclose())


async def _next_message(pubsub, timeout: float) -> None:
    """Return on a message or after `timeout` seconds."""
    if pubsub is None:
        await asyncio.sleep(timeout)
        return
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while (left := end - loop.time()) > 0:
        try:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
        except redis.RedisError as exc:
            log.warning("generation events: %s", exc)
            await asyncio.sleep(max(0.0, end - loop.time()))
            return
        if message is not None:
            return


async def _quietly(awaitable) -> None:
    try:
        await awaitable
    except (redis.RedisError, OSError) as exc:
        log.debug("closing a Redis connection: %s", exc)
