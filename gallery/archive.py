"""A ZIP of a selection's originals, streamed: each original is read from S3 in chunks as the
archive is sent, never held whole in memory nor written to disk (zipstream-ng).

Every image gets its original under a readable unique name (Image.download_name) and a JSON
sidecar beside it with what made it (prompt, seed, size, model, guidance, created, tags).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
import zipfile
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from zipstream import ZipStream

from gallery.models import Image
from gallery.seedream.contract import model_label
from gallery.storage import open_object

log = logging.getLogger(__name__)

# S3 is read and the archive sent in pieces this size: big enough that the per-piece costs
# (a thread hop under ASGI, a socket write) vanish, small enough that memory stays flat.
CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class Entry:
    """One image in the archive: its original's key and the facts for its sidecar."""

    name: str  # unique within the archive
    key: str
    facts: dict


def entries_for(images: Iterable[Image], tags_by_image: dict[int, list[str]]) -> list[Entry]:
    """The archive's entries in the given order, with names made unique (case-insensitively,
    as Windows and macOS compare them) by a -2, -3... before the extension."""
    taken: set[str] = set()
    entries = []
    for image in images:
        name = _unique(image.download_name, taken)
        entries.append(Entry(name=name, key=image.original_key, facts=_facts(image, tags_by_image)))
    return entries


def _unique(name: str, taken: set[str]) -> str:
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    candidate, n = name, 1
    while candidate.casefold() in taken or f"{candidate}.json".casefold() in taken:
        n += 1
        candidate = f"{stem}-{n}.{extension}" if extension else f"{stem}-{n}"
    taken.update({candidate.casefold(), f"{candidate}.json".casefold()})
    return candidate


def _facts(image: Image, tags_by_image: dict[int, list[str]]) -> dict:
    return {
        "id": image.pk,
        "prompt": image.prompt,
        "seed": image.seed,
        "size": image.size,
        "width": image.width,
        "height": image.height,
        "model": image.model,
        "model_name": str(model_label(image.model)),
        "guidance_scale": image.guidance_scale,
        "watermark": image.watermark,
        "created": image.created_at.isoformat(),
        "author": image.owner.get_username(),
        "visibility": image.visibility,
        "tags": sorted(tags_by_image.get(image.pk, [])),
        "content_type": image.content_type,
        "sha256": image.sha256,
    }


def zip_stream(entries: list[Entry]) -> ZipStream:
    """The archive, lazily: no S3 object is opened until the archive reaches its entry."""
    archive = ZipStream(compress_type=zipfile.ZIP_STORED)  # JPEG and PNG do not shrink
    for entry in entries:
        outcome: dict = {}
        archive.add(_original(entry, outcome), entry.name)
        archive.add(
            _sidecar(entry, outcome), f"{entry.name}.json", compress_type=zipfile.ZIP_DEFLATED
        )
    return archive


def _original(entry: Entry, outcome: dict) -> Iterator[bytes]:
    try:
        body = open_object(entry.key)
    except (ClientError, BotoCoreError) as exc:
        # The headers are sent: the rest of the archive is still worth having, and the
        # sidecar says what is missing rather than the download failing as a whole.
        log.error("ZIP: cannot read %s for image %s: %s", entry.key, entry.facts["id"], exc)
        outcome["error"] = "The original could not be read from storage."
        return
    try:
        yield from body.iter_chunks(CHUNK_BYTES)
    finally:
        body.close()


def _sidecar(entry: Entry, outcome: dict) -> Iterator[bytes]:
    facts = dict(entry.facts, file=entry.name, **outcome)  # runs after the original is read
    yield json.dumps(facts, ensure_ascii=False, indent=2).encode() + b"\n"


def pieces(archive: Iterable[bytes]) -> Iterator[bytes]:
    """The archive in pieces of about CHUNK_BYTES: zipstream-ng yields headers of a few dozen
    bytes between the data, and each piece costs a write (and under ASGI a thread hop)."""
    buffer: list[bytes] = []
    size = 0
    for chunk in archive:
        buffer.append(chunk)
        size += len(chunk)
        if size >= CHUNK_BYTES:
            yield b"".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield b"".join(buffer)


async def pieces_async(archive: Iterable[bytes], *, ahead: int = 4) -> AsyncIterator[bytes]:
    """The same pieces for an ASGI server, which would otherwise read a sync iterator into one
    list before sending a byte. A producer thread reads S3 and builds pieces while the event
    loop sends the ones before: at most `ahead` pieces wait, so memory stays flat whatever
    the archive's size, and reading overlaps sending."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue(maxsize=ahead)
    stop = threading.Event()
    done = object()

    def put(item) -> bool:
        future = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
        while True:
            try:
                future.result(timeout=0.5)
                return True
            except concurrent.futures.TimeoutError:
                if stop.is_set():  # the client has gone: nobody will take it
                    future.cancel()
                    return False

    def produce() -> None:
        iterator = pieces(archive)
        try:
            for piece in iterator:
                if not put(piece):
                    return
            put(done)
        except Exception as exc:  # the consumer raises it in the request's own task
            if not stop.is_set():
                put(exc)
        finally:
            iterator.close()  # closes the S3 body being read, if any

    producer = threading.Thread(target=produce, name="zip-producer", daemon=True)
    producer.start()
    try:
        while (item := await queue.get()) is not done:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()
