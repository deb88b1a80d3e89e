"""Generation events over Redis pub/sub: the pipeline says when a job reaches a final state,
and the gateway's async view waits for that instead of polling the database.

The row stays the truth: a waiter is registered with its loop's listener (subscribed to
every generation's channel) first, then reads the row, and re-reads it every RECHECK_S
seconds in case a message was lost (Redis restarted, a worker died between its commit and
its publish).
"""

from __future__ import annotations

import asyncio
import logging

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

# A listener that lost its connection tries again after this many seconds; a loop's first
# waiter waits at most SUBSCRIBE_WAIT_S for it to subscribe, then polls until it does.
RECONNECT_S = 1.0
SUBSCRIBE_WAIT_S = 2.0
PATTERN = channel(0).replace(":0:", ":*:")


class _Listener:
    """The event loop's one pub/sub connection, subscribed to every generation's finish
    channel, waking the waiters of the generation each message names: 100 waits cost one
    connection and no subscribe or unsubscribe of their own."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiters: dict[int, set[asyncio.Event]] = {}
        self.subscribed = asyncio.Event()
        self.task = loop.create_task(self._run())

    def watch(self, generation_id: int) -> asyncio.Event:
        event = asyncio.Event()
        self.waiters.setdefault(generation_id, set()).add(event)
        return event

    def unwatch(self, generation_id: int, event: asyncio.Event) -> None:
        events = self.waiters.get(generation_id, set())
        events.discard(event)
        if not events:
            self.waiters.pop(generation_id, None)

    def _wake(self, generation_id: int | None = None) -> None:
        """Wake one generation's waiters, or all of them (None)."""
        if generation_id is None:
            groups = list(self.waiters.values())
        else:
            groups = [self.waiters.get(generation_id, set())]
        for events in groups:
            for event in events:
                event.set()

    async def _run(self) -> None:
        client = async_client()
        try:
            while True:
                pubsub = client.pubsub()
                try:
                    await pubsub.psubscribe(PATTERN)
                    confirmed = await pubsub.get_message(timeout=SUBSCRIBE_WAIT_S)
                    if confirmed is None or confirmed["type"] != "psubscribe":
                        raise redis.ConnectionError("no answer to PSUBSCRIBE")
                    self.subscribed.set()
                    while True:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=None
                        )
                        if message is not None and message["type"] == "pmessage":
                            self._wake(_generation_id(message["channel"]))
                except (redis.RedisError, OSError) as exc:
                    log.warning("generation events: listening again in %g s: %s", RECONNECT_S, exc)
                finally:
                    self.subscribed.clear()
                    await _quietly(pubsub.aclose())
                self._wake()  # messages may have been lost meanwhile: every waiter re-reads
                await asyncio.sleep(RECONNECT_S)
        finally:
            await _quietly(client.aclose())


def _generation_id(channel_name: bytes) -> int | None:
    try:
        return int(channel_name.split(b":")[2])
    except (IndexError, ValueError):
        return None


_listeners: dict[int, _Listener] = {}


def _listener_of(loop: asyncio.AbstractEventLoop) -> _Listener:
    """The loop's listener, started on first use and again if it ever stopped."""
    listener = _listeners.get(id(loop))
    if listener is None or listener.loop is not loop or listener.task.done():
        listener = _listeners[id(loop)] = _Listener(loop)
        listener.task.add_done_callback(lambda task: _forget(listener, task))
    return listener


def _forget(listener: _Listener, task: asyncio.Task) -> None:
    """Drop a stopped listener (its loop ended, or a bug: logged) so the loop can go."""
    if _listeners.get(id(listener.loop)) is listener:
        del _listeners[id(listener.loop)]
    if not task.cancelled() and task.exception() is not None:
        log.error("generation events listener stopped", exc_info=task.exception())


async def wait_finished(generation_id: int, *, timeout: float) -> Generation | None:
    """The generation once it is final, or as it stands when `timeout` seconds have passed
    (None if it no longer exists)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    listener = _listener_of(loop)
    finished = listener.watch(generation_id)
    try:
        if not listener.subscribed.is_set():
            try:
                await asyncio.wait_for(listener.subscribed.wait(), SUBSCRIBE_WAIT_S)
            except TimeoutError:
                log.warning("generation %s: waiting without Redis for now", generation_id)
        while True:
            finished.clear()  # before the read: a message during it wakes the next wait
            generation = await load_generation(generation_id)
            if generation is None or generation.status in Generation.TERMINAL:
                return generation
            left = deadline - loop.time()
            if left <= 0:
                return generation
            try:
                await asyncio.wait_for(finished.wait(), min(left, RECHECK_S))
            except TimeoutError:
                pass
    finally:
        listener.unwatch(generation_id, finished)


async def _quietly(awaitable) -> None:
    try:
        await awaitable
    except (redis.RedisError, OSError) as exc:
        log.debug("closing a Redis connection: %s", exc)
