"""The selection as a ZIP: streamed from S3 as it is sent (under WSGI and ASGI), the originals
under readable unique names, each with a JSON sidecar of what made it."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile

import pytest
from django.http import StreamingHttpResponse

from config.asgi import GalleryASGIHandler
from gallery import archive, storage
from gallery.models import ImageTag
from gallery.services import tags as tag_service
from tests.fixtures.gateway import in_own_thread
from tests.images import make_image

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/images/bulk/"


def stored_image(owner, body: bytes, **fields):
    image = make_image(owner, **fields)
    storage.put_object(image.original_key, body, "image/jpeg")
    return image


def entries(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as zipped:
        assert zipped.testzip() is None
        return {name: zipped.read(name) for name in zipped.namelist()}


def test_the_zip_holds_each_original_and_its_sidecar_under_unique_names(
    s3_server, alice_client, alice
):
    kite = stored_image(alice, b"kite-bytes", prompt="A kite over the sea", seed=7)
    twin = stored_image(alice, b"twin-bytes", prompt="a kite over the sea!", seed=7)
    cat = stored_image(alice, b"cat-bytes", prompt="一只橘猫", seed=3, visibility="private")
    tag_service.add_tags(alice, [kite], ["sea", "海鸥"])
    ids = f"{kite.pk},{twin.pk},{cat.pk}"
    response = alice_client.post(URL, {"action": "download", "ids": ids})
    assert response.status_code == 200 and isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="seedgallery-3-images')
    files = entries(b"".join(response.streaming_content))
    assert list(files) == [
        "a-kite-over-the-sea-seed7.jpg", "a-kite-over-the-sea-seed7.jpg.json",
        "a-kite-over-the-sea-seed7-2.jpg", "a-kite-over-the-sea-seed7-2.jpg.json",
        "一只橘猫-seed3.jpg", "一只橘猫-seed3.jpg.json",
    ]  # fmt: skip
    assert files["a-kite-over-the-sea-seed7.jpg"] == b"kite-bytes"
    assert files["a-kite-over-the-sea-seed7-2.jpg"] == b"twin-bytes"
    facts = json.loads(files["a-kite-over-the-sea-seed7.jpg.json"])
    assert facts["prompt"] == "A kite over the sea" and facts["seed"] == 7
    assert facts["size"] == "1024x1024" and facts["guidance_scale"] == 2.5
    assert facts["tags"] == ["sea", "海鸥"] and facts["author"] == "alice"
    assert facts["model"] == kite.model and facts["created"] == kite.created_at.isoformat()
    assert json.loads(files["一只橘猫-seed3.jpg.json"])["visibility"] == "private"


def test_names_that_differ_only_in_case_are_made_unique():
    taken: set[str] = set()
    names = [archive._unique(name, taken) for name in ["Kite.jpg", "kite.jpg", "KITE.JPG", "x"]]
    assert names == ["Kite.jpg", "kite-2.jpg", "KITE-3.JPG", "x"]


def test_an_original_missing_from_storage_leaves_a_note_not_a_broken_zip(
    s3_server, alice_client, alice
):
    present = stored_image(alice, b"here", prompt="present", seed=1)
    missing = make_image(alice, prompt="missing", seed=2)  # its object was never stored
    ids = f"{missing.pk},{present.pk}"
    response = alice_client.post(URL, {"action": "download", "ids": ids})
    files = entries(b"".join(response.streaming_content))
    assert files["missing-seed2.jpg"] == b""
    assert "could not be read" in json.loads(files["missing-seed2.jpg.json"])["error"]
    assert files["present-seed1.jpg"] == b"here"


def test_nothing_is_read_from_s3_before_the_archive_reaches_an_entry(s3_server, alice, monkeypatch):
    opened = []

    def watched(key):  # the real read, noted
        opened.append(key)
        return storage.open_object(key)

    monkeypatch.setattr(archive, "open_object", watched)
    images = [stored_image(alice, b"x" * 10) for _ in range(3)]
    stream = archive.pieces(archive.zip_stream(archive.entries_for(images, {})))
    assert opened == []
    list(stream)
    assert opened == [image.original_key for image in images]


def test_under_asgi_the_zip_is_sent_in_pieces_as_it_is_read(s3_server, client, alice):
    """Django would read a sync iterator whole before sending under ASGI: the view hands it an
    async one, so the first piece leaves before the last original is read."""
    body = bytes(range(256)) * 2048  # 512 KB each: several pieces per original
    images = [stored_image(alice, body, prompt=f"picture {n}") for n in range(4)]
    client.force_login(alice)
    session = client.cookies["sessionid"].value
    csrf = "a" * 32
    form = f"action=download&ids={','.join(str(i.pk) for i in images)}".encode()
    headers = [(b"host", b"testserver"), (b"content-type", b"application/x-www-form-urlencoded"),
               (b"content-length", str(len(form)).encode()), (b"x-csrftoken", csrf.encode()),
               (b"cookie", f"sessionid={session}; csrftoken={csrf}".encode())]  # fmt: skip
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": URL, "raw_path": URL.encode(),
             "query_string": b"", "root_path": "", "headers": headers,
             "server": ("testserver", 80), "client": ("127.0.0.1", 50000)}  # fmt: skip
    sent = []

    async def run():
        delivered = False

        async def receive():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": form, "more_body": False}
            await asyncio.Event().wait()

        async def send(message):
            sent.append(message)

        await GalleryASGIHandler()(scope, receive, send)

    in_own_thread(asyncio.run, run())
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    pieces = [m["body"] for m in sent[1:] if m.get("body")]
    assert len(pieces) >= 4  # streamed, not one body
    assert max(len(piece) for piece in pieces) < 2 * archive.CHUNK_BYTES
    files = entries(b"".join(pieces))
    assert all(files[f"picture-{n}-seed{images[n].seed}.jpg"] == body for n in range(4))


def test_tags_of_every_image_come_in_one_query(alice, django_assert_num_queries):
    from gallery import queries

    images = [make_image(alice) for _ in range(5)]
    tag_service.add_tags(alice, images[:3], ["one", "two"])
    with django_assert_num_queries(1):
        names = queries.tag_names_of(images)
    assert {pk: sorted(v) for pk, v in names.items()} == {
        image.pk: ["one", "two"] for image in images[:3]
    }
    assert ImageTag.objects.count() == 6


def test_a_client_gone_mid_download_stops_the_reading_thread(s3_server, alice):
    import threading
    import time

    images = [stored_image(alice, bytes(600_000), prompt=f"big {n}") for n in range(6)]
    stream = archive.zip_stream(archive.entries_for(images, {}))

    async def take_one_and_hang_up():
        pieces = archive.pieces_async(stream)
        first = await pieces.__anext__()
        await pieces.aclose()
        return first

    assert in_own_thread(asyncio.run, take_one_and_hang_up())
    deadline = time.monotonic() + 5
    while any(t.name == "zip-producer" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the producer thread kept reading"
        time.sleep(0.05)
