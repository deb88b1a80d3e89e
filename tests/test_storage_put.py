"""The worker's S3 PUT: one SigV4-signed request over a pooled connection, checked against a
real SeaweedFS (bytes, headers, awkward keys, refusals) and against botocore's own signer;
small socket servers stand in for an S3 that drops, stalls or lies about its certificate."""

from __future__ import annotations

import base64
import hashlib
import logging
import socket
import ssl
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode
from django.conf import settings

from gallery import storage
from gallery.devstack import free_port
from gallery.services import ingest
from gallery.storage import CACHE_CONTROL, StorageError, put_object

AWKWARD_KEYS = [
    "originals/ab/with space.jpg",
    "originals/ab/ünïcødé-图像.jpg",
    "originals/ab/plus+sign.jpg",
    "originals/ab/tilde~name.jpg",
    "originals/ab/equals=sign&and.jpg",
    "originals/ab/percent%20not-decoded.jpg",
    "originals/ab/quote'star*paren().jpg",
]


def _head(key: str) -> dict:
    return storage.shared_s3_client().head_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key)


def test_stored_bytes_read_back_equal_with_type_and_cache_control(s3_server):
    data = bytes(range(256)) * 600  # ~150 KiB, every byte value
    put_object("originals/pu/bytes.jpg", data, "image/jpeg")
    assert storage.read_object("originals/pu/bytes.jpg") == data
    head = _head("originals/pu/bytes.jpg")
    assert head["ContentType"] == "image/jpeg"
    assert head["CacheControl"] == CACHE_CONTROL
    assert head["ContentLength"] == len(data)


def test_a_precomputed_sha256_is_used_and_an_empty_object_can_be_stored(s3_server):
    data = b"thumbnail bytes"
    put_object("thumbnails/pu/given.webp", data, "image/webp", sha256=_sha(data))
    put_object("thumbnails/pu/empty.webp", b"", "image/webp")
    assert storage.read_object("thumbnails/pu/given.webp") == data
    assert storage.read_object("thumbnails/pu/empty.webp") == b""
    assert _head("thumbnails/pu/given.webp")["ContentType"] == "image/webp"


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_awkward_keys_round_trip_under_the_exact_key(s3_server, key):
    data = f"stored under {key}".encode()
    put_object(key, data, "image/jpeg")
    assert storage.read_object(key) == data  # boto3 reads it back under the raw key


def test_storing_the_same_key_again_replaces_it(s3_server):
    put_object("originals/pu/again.jpg", b"first", "image/jpeg")
    put_object("originals/pu/again.jpg", b"second", "image/jpeg")
    assert storage.read_object("originals/pu/again.jpg") == b"second"


def test_a_wrong_secret_is_refused_and_never_shown(s3_server, settings, caplog):
    secret = "wrong-secret-Zq9xK"
    settings.AWS_SECRET_ACCESS_KEY = secret
    with pytest.raises(StorageError) as caught:
        put_object("originals/pu/secret.jpg", b"x", "image/jpeg")
    assert (caught.value.status, caught.value.code) == (403, "SignatureDoesNotMatch")
    assert secret not in str(caught.value) and secret not in repr(caught.value)
    with caplog.at_level(logging.DEBUG), pytest.raises(ingest.IngestError) as wrapped:
        ingest._put("originals/pu/secret.jpg", b"x", "image/jpeg")
    assert wrapped.value.code == "storage_unavailable" and wrapped.value.retryable
    assert "403" in caplog.text and secret not in caplog.text


def test_a_wrong_access_key_is_refused(s3_server, settings):
    settings.AWS_ACCESS_KEY_ID = "nobody-here"
    with pytest.raises(StorageError) as caught:
        put_object("originals/pu/who.jpg", b"x", "image/jpeg")
    assert (caught.value.status, caught.value.code) == (403, "InvalidAccessKeyId")


def test_a_missing_bucket_is_made_by_seaweedfs_as_for_boto3(s3_server, settings):
    # SeaweedFS creates a bucket on its first PUT (AWS answers NoSuchBucket, which the fake
    # server below stands in for): our PUT and boto3's meet the same answer.
    settings.AWS_STORAGE_BUCKET_NAME = "made-on-first-put"
    put_object("originals/pu/somewhere.jpg", b"x", "image/jpeg")
    assert storage.read_object("originals/pu/somewhere.jpg") == b"x"


def test_a_sha256_that_does_not_match_the_bytes_is_refused_by_s3(s3_server):
    with pytest.raises(StorageError) as caught:
        put_object("originals/pu/liar.jpg", b"the real bytes", "image/jpeg", sha256=_sha(b"other"))
    assert (caught.value.status, caught.value.code) == (400, "BadDigest")
    assert not _stored("originals/pu/liar.jpg")
    put_object(
        "originals/pu/liar.jpg", b"the real bytes", "image/jpeg", sha256=_sha(b"the real bytes")
    )
    assert _stored("originals/pu/liar.jpg")


def test_a_closed_port_is_a_storage_error(s3_server, settings):
    settings.AWS_S3_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StorageError) as caught:
        put_object("originals/pu/closed.jpg", b"x", "image/jpeg")
    assert (caught.value.status, caught.value.code) == (None, "unreachable")


def test_fifty_threads_storing_at_once_all_succeed(s3_server):
    start = threading.Barrier(50)

    def store(i: int) -> None:
        start.wait()
        put_object(f"originals/pu/many-{i}.jpg", f"image {i}".encode() * 1000, "image/jpeg")

    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(store, range(50)))
    for i in range(50):
        assert storage.read_object(f"originals/pu/many-{i}.jpg") == f"image {i}".encode() * 1000


def test_a_fixed_request_signs_to_the_header_botocore_computes(monkeypatch):
    body, at = b"fixed body", datetime(2026, 11, 29, 3, 4, 5)
    access, secret = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    request = AWSRequest(
        method="PUT", url="https://s3.example.com/media/originals/ab/x%20y.jpg", data=body,
        headers={"Content-Type": "image/jpeg", "Cache-Control": CACHE_CONTROL,
                 "X-Amz-Checksum-SHA256": _checksum(body)},
    )  # fmt: skip
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *a, **k: at)
    S3SigV4Auth(Credentials(access, secret), "s3", "eu-west-3").add_auth(request)
    ours = storage.sigv4_put_headers(
        path="/media/originals/ab/x%20y.jpg", host="s3.example.com", content_type="image/jpeg",
        payload_sha256=_sha(body), amz_date="20261129T030405Z", access_key=access,
        secret_key=secret, region="eu-west-3",
    )  # fmt: skip
    assert ours["Authorization"] == request.headers["Authorization"]
    assert ours["X-Amz-Content-SHA256"] == request.headers["X-Amz-Content-SHA256"]
    assert ours["X-Amz-Date"] == request.headers["X-Amz-Date"] == "20261129T030405Z"


@pytest.mark.parametrize("key", ["originals/ab/plain.jpg", *AWKWARD_KEYS])
def test_the_request_put_object_sends_is_the_one_botocore_would_sign(key, settings):
    server = _FakeS3(["ok"])
    settings.AWS_S3_ENDPOINT_URL = server.url
    body = b"body"
    put_object(key, body, "image/jpeg")
    ((path, headers),) = server.heads
    # botocore's serializer encodes a key so (the `{Key+}` label of PutObject)
    expected_path = f"/{settings.AWS_STORAGE_BUCKET_NAME}/{percent_encode(key, safe='/~')}"
    assert path == expected_path
    at = datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    assert headers["authorization"] == _botocore_authorization(server.url + path, body, at)
    assert headers["host"] == server.url.removeprefix("http://")


def test_an_endpoint_with_a_path_prefix_keeps_it_in_the_signed_path(settings):
    server = _FakeS3(["ok"])
    settings.AWS_S3_ENDPOINT_URL = server.url + "/s3/"
    put_object("originals/pu/prefixed.jpg", b"abc", "image/jpeg")
    ((path, headers),) = server.heads
    assert path == f"/s3/{settings.AWS_STORAGE_BUCKET_NAME}/originals/pu/prefixed.jpg"
    at = datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    assert headers["authorization"] == _botocore_authorization(server.url + path, b"abc", at)


def test_an_ipv6_endpoint_names_its_host_in_brackets(settings):
    try:
        server = _FakeS3(["ok"], host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    settings.AWS_S3_ENDPOINT_URL = server.url
    put_object("originals/pu/six.jpg", b"abc", "image/jpeg")
    ((path, headers),) = server.heads
    assert headers["host"] == server.url.removeprefix("http://")
    assert headers["host"].startswith("[::1]:")


@pytest.mark.parametrize("endpoint", ["ftp://127.0.0.1:21", "127.0.0.1:8333", "http://"])
def test_an_endpoint_that_is_not_an_http_url_is_a_storage_error(settings, endpoint):
    settings.AWS_S3_ENDPOINT_URL = endpoint
    with pytest.raises(StorageError) as caught:
        put_object("originals/pu/where.jpg", b"abc", "image/jpeg")
    assert caught.value.code == "unreachable"


@pytest.mark.parametrize(
    ("key", "data", "content_type", "sha256", "error"),
    [
        ("", b"x", "image/jpeg", None, ValueError),
        ("a" * 1025, b"x", "image/jpeg", None, ValueError),
        ("é" * 513, b"x", "image/jpeg", None, ValueError),  # 1026 bytes of UTF-8
        ("originals/\ud800.jpg", b"x", "image/jpeg", None, ValueError),
        ("originals/../escape.jpg", b"x", "image/jpeg", None, ValueError),
        ("originals/./here.jpg", b"x", "image/jpeg", None, ValueError),
        ("originals/ok.jpg", b"x", "", None, ValueError),
        ("originals/ok.jpg", b"x", "image/jpeg\r\nX-Evil: 1", None, ValueError),
        ("originals/ok.jpg", b"x", "image/jpég", None, ValueError),
        ("originals/ok.jpg", b"x", "image/jpeg", "ABC", ValueError),
        ("originals/ok.jpg", b"x", "image/jpeg", "A" * 64, ValueError),
        ("originals/ok.jpg", "text", "image/jpeg", None, TypeError),
        ("originals/ok.jpg", bytearray(b"x"), "image/jpeg", None, TypeError),
    ],
)
def test_bad_arguments_are_refused_before_any_request(key, data, content_type, sha256, error):
    # no s3_server: nothing is sent, so nothing needs to listen
    with pytest.raises(error):
        put_object(key, data, content_type, sha256=sha256)


def test_a_kept_alive_connection_the_server_dropped_is_retried_once(settings):
    server = _FakeS3(["drop", "ok"])
    settings.AWS_S3_ENDPOINT_URL = server.url
    put_object("originals/pu/retry.jpg", b"abc", "image/jpeg")
    assert server.requests == 2 and server.bodies == [b"abc", b"abc"]


def test_a_second_drop_gives_up(settings):
    server = _FakeS3(["drop", "drop", "ok"])
    settings.AWS_S3_ENDPOINT_URL = server.url
    with pytest.raises(StorageError) as caught:
        put_object("originals/pu/retry.jpg", b"abc", "image/jpeg")
    assert (caught.value.status, caught.value.code) == (None, "unreachable")
    assert server.requests == 2


def test_an_answer_of_no_such_bucket_is_told_apart(settings):
    server = _FakeS3(["nobucket"])
    settings.AWS_S3_ENDPOINT_URL = server.url
    with pytest.raises(StorageError) as caught:
        put_object("originals/pu/nowhere.jpg", b"abc", "image/jpeg")
    assert (caught.value.status, caught.value.code) == (404, "NoSuchBucket")


def test_an_error_status_is_not_retried_and_its_code_is_read(settings):
    server = _FakeS3(["slowdown", "ok"])
    settings.AWS_S3_ENDPOINT_URL = server.url
    with pytest.raises(StorageError) as caught:
        put_object("originals/pu/busy.jpg", b"abc", "image/jpeg")
    assert (caught.value.status, caught.value.code) == (503, "SlowDown")
    assert server.requests == 1


@pytest.mark.parametrize("answer", ["junk", "huge"])
def test_an_error_body_that_is_not_s3_xml_still_gives_the_status(settings, answer):
    server = _FakeS3([answer, "ok"])
    settings.AWS_S3_ENDPOINT_URL = server.url
    with pytest.raises(StorageError) as caught:
        put_object("originals/pu/junk.jpg", b"abc", "image/jpeg")
    assert (caught.value.status, caught.value.code) == (500, "http_error")
    # the connection is usable (or replaced) afterwards
    put_object("originals/pu/junk.jpg", b"abc", "image/jpeg")
    assert server.requests == 2


def test_a_stalled_answer_times_out_without_a_second_try(settings):
    server = _FakeS3(["stall", "ok"])
    settings.AWS_S3_ENDPOINT_URL = server.url
    settings.AWS_S3_READ_TIMEOUT = 0.3
    with pytest.raises(StorageError) as caught:
        put_object("originals/pu/stall.jpg", b"abc", "image/jpeg")
    assert (caught.value.status, caught.value.code) == (None, "timeout")
    assert server.requests == 1
    server.release.set()


def test_https_refuses_a_certificate_no_one_trusts(settings, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = _FakeS3(["ok", "ok"], tls=(cert, key))
    settings.AWS_S3_ENDPOINT_URL = server.url
    with pytest.raises(StorageError) as caught:
        put_object("originals/pu/tls.jpg", b"abc", "image/jpeg")
    assert caught.value.code == "unreachable"
    assert "CERTIFICATE_VERIFY_FAILED" in repr(caught.value.__cause__)
    assert server.requests == 0


# --- helpers ------------------------------------------------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _botocore_authorization(url: str, body: bytes, at: datetime) -> str:
    """What botocore's S3 signer puts in Authorization for this PUT at this instant."""
    request = AWSRequest(
        method="PUT", url=url, data=body,
        headers={"Content-Type": "image/jpeg", "Cache-Control": CACHE_CONTROL,
                 "X-Amz-Checksum-SHA256": _checksum(body)},
    )  # fmt: skip
    credentials = Credentials(settings.AWS_ACCESS_KEY_ID, settings.AWS_SECRET_ACCESS_KEY)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("botocore.auth.get_current_datetime", lambda *a, **k: at)
        S3SigV4Auth(credentials, "s3", settings.AWS_S3_REGION_NAME).add_auth(request)
    return request.headers["Authorization"]


def _checksum(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _stored(key: str) -> bool:
    from tests.images import stored

    return stored(key)


class _FakeS3:
    """A socket server answering one scripted way per request, one connection each:
    `ok` (200), `nobucket` (404 as AWS words it), `drop` (read the request, close without answering), `slowdown` (503 with S3's
    XML), `junk` (500, not XML), `huge` (500 with a 100 KiB body), `stall` (never answers)."""

    def __init__(self, script: list[str], *, tls: tuple | None = None, host="127.0.0.1") -> None:
        self.script, self.requests, self.bodies, self.heads = list(script), 0, [], []
        self.release = threading.Event()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.create_server((host, 0), family=family)
        self.context = None
        if tls:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(*tls)
        scheme = "https" if tls else "http"
        name = f"[{host}]" if ":" in host else host
        self.url = f"{scheme}://{name}:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while self.script:
            conn, _ = self.sock.accept()
            try:
                if self.context:
                    conn = self.context.wrap_socket(conn, server_side=True)
                self._answer(conn)
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    def _answer(self, conn) -> None:
        while self.script:
            raw = b""
            while b"\r\n\r\n" not in raw:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                raw += chunk
            head, _, body = raw.partition(b"\r\n\r\n")
            length = int(next(
                line.split(b":")[1] for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ))  # fmt: skip
            while len(body) < length:
                body += conn.recv(65536)
            self.requests += 1
            self.bodies.append(body)
            request_line, *lines = head.decode().split("\r\n")
            fields = dict(line.split(": ", 1) for line in lines)
            self.heads.append(
                (request_line.split(" ")[1], {k.lower(): v for k, v in fields.items()})
            )
            step = self.script.pop(0)
            if step == "drop":
                return
            if step == "stall":
                self.release.wait(10)
                return
            conn.sendall(_ANSWERS[step])


def _answer(status: str, body: bytes) -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


_ANSWERS = {
    "ok": _answer("200 OK", b""),
    "slowdown": _answer(
        "503 Slow Down",
        b'<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Reduce</Message></Error>',
    ),
    "nobucket": _answer(
        "404 Not Found",
        b"<?xml version='1.0'?>\n<Error>\n  <Code>NoSuchBucket</Code>\n  <BucketName>b</BucketName></Error>",
    ),
    "junk": _answer("500 Oops", b"\x00\xff<Code>not a <b>code</b></Code"),
    "huge": _answer("500 Oops", b"<Error>" + b"x" * 100_000 + b"<Code>Late</Code></Error>"),
}
