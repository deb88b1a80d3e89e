"""Putting work on the broker by the task's registered name: the services queue work through
here and never import gallery.tasks (which imports them)."""

from __future__ import annotations

import base64
import json
import logging

log = logging.getLogger(__name__)

RUN_GENERATION = "gallery.run_generation"
PURGE_IMAGE_OBJECTS = "gallery.purge_image_objects"


def enqueue_generation(generation_id: int, *, countdown: float | None = None) -> None:
    """Queue one run of a generation; raises when the broker cannot take it."""
    from config.celery import app

    app.send_task(RUN_GENERATION, (generation_id,), countdown=countdown)


def enqueue_purge(keys: list[str]) -> None:
    """Queue the removal of stored objects that no row may use any more."""
    from config.celery import app

    app.send_task(PURGE_IMAGE_OBJECTS, (keys,))


def waiting_generation_ids() -> set[int]:
    """Ids of generations with a run waiting in the broker's queue, so the sweeper does not
    add a second message for a job that is merely waiting its turn in a backlog."""
    from config.celery import app

    queue = app.conf.task_default_queue
    with app.connection_for_write() as conn:
        client = getattr(conn.default_channel, "client", None)
        if client is None:  # not Redis: nothing to look into
            return set()
        raw = client.lrange(queue, 0, -1)
    ids = set()
    for message in raw:
        try:
            envelope = json.loads(message)
            if envelope.get("headers", {}).get("task") != RUN_GENERATION:
                continue
            args = json.loads(base64.b64decode(envelope["body"]))[0]
            ids.add(int(args[0]))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            log.warning("unreadable message in queue %s: %s", queue, exc)
    return ids
