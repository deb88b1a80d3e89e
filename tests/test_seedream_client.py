"""The Seedream client: what it sends, and one typed error for every way a call can fail.

Talks to a raw socket server that answers whatever each test scripts (timeouts, resets,
garbage), and to the emulator for the real contract."""

from __future__ import annotations

import base64
import json
import socket
import threading

import pytest

from gallery.seedream import client
from gallery.seedream.contract import GenerationParams

KEY = "sk-test-never-shown"


class RawServer:
    """Accepts connections and answers each with scripted bytes (or silence, or a reset)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.reply: bytes | str = b""
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            length = int(
                next(
                    (
                        line.split(b":")[1]
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    b"0",
                )  # fmt: skip
            )
            while len(rest) < length:
                rest += conn.recv(65536)
            self.requests.append(head + b"\r\n\r\n" + rest)
            if self.reply == "silence":
                threading.Event().wait(5)
                return
            if self.reply == "drip":  # headers, then one byte of body every 0.2 s
                conn.sendall(b"HTTP/1.1 200 X\r\nContent-Length: 1000\r\n\r\n")
                for _ in range(1000):
                    threading.Event().wait(0.2)
                    try:
                        conn.sendall(b" ")
                    except OSError:
                        return
                return
            if self.reply == "reset":
                conn.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                return
            conn.sendall(self.reply)

    def answer(self, status: int, body: bytes | dict, headers: dict | None = None) -> None:
        payload = json.dumps(body).encode() if isinstance(body, dict) else body
        lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(payload)}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.reply = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload

    def config(
        self, base: str = "/api/v3", read_timeout: float = 2.0, **more
    ) -> client.ClientConfig:
        return client.ClientConfig(
            base_url=f"http://127.0.0.1:{self.port}{base}", api_key=KEY,
            connect_timeout=1.0, read_timeout=read_timeout, user_agent="Seedgallery/test", **more,
        )  # fmt: skip


@pytest.fixture
def raw():
    server = RawServer()
    yield server
    server.sock.close()


PARAMS = GenerationParams(prompt="a kite", size="1024x1024", seed=3, watermark=False)
OK = {"model": "m", "created": 1748334192, "data": [{"url": "https://x.example/a.jpeg"}],
      "usage": {"generated_images": 1}}  # fmt: skip


def call(raw, **kwargs):
    return client.generate(PARAMS, config=raw.config(**kwargs), client_request_id="cid-1")


def test_request_is_exactly_the_contract(raw):
    raw.answer(200, OK, {"X-Request-Id": "srv-1"})
    result = call(raw)
    head, _, body = raw.requests[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    assert lines[0] == "POST /api/v3/images/generations HTTP/1.1"
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["content-type"] == "application/json"
    assert headers["x-client-request-id"] == "cid-1"
    assert headers["user-agent"] == "Seedgallery/test"
    assert json.loads(body) == {
        "prompt": "a kite", "model": "doubao-seedream-3-0-t2i-250415", "size": "1024x1024",
        "seed": 3, "watermark": False, "response_format": "url",
    }  # fmt: skip
    assert result.request_id == "srv-1"
    assert result.client_request_id == "cid-1"
    assert (result.url, result.created, result.generated_images) == (
        "https://x.example/a.jpeg",
        1748334192,
        1,
    )


def test_a_trailing_slash_on_the_base_url_is_fine(raw):
    raw.answer(200, OK)
    call(raw, base="/v1/")
    assert raw.requests[0].startswith(b"POST /v1/images/generations ")


def test_unset_fields_are_left_out(raw):
    raw.answer(200, OK)
    client.generate(GenerationParams(prompt="p"), config=raw.config())
    body = json.loads(raw.requests[0].partition(b"\r\n\r\n")[2])
    assert body == {
        "prompt": "p",
        "model": "doubao-seedream-3-0-t2i-250415",
        "response_format": "url",
    }


@pytest.mark.parametrize(
    ("status", "code", "error_type", "product_code", "retryable"),
    [
        (400, "InvalidParameter", client.SeedreamInvalidParameter, "invalid_parameter", False),
        (400, "InputTextSensitiveContentDetected", client.SeedreamContentRefused, "input_refused", False),
        (400, "OutputImageSensitiveContentDetected", client.SeedreamContentRefused, "output_refused", False),
        (400, "SensitiveContentDetected.SevereViolation", client.SeedreamContentRefused, "input_refused", False),
        (401, "AuthenticationError", client.SeedreamAuthError, "auth_failed", False),
        (403, "AccountOverdueError", client.SeedreamAccessDenied, "access_denied", False),
        (404, "ModelNotOpen", client.SeedreamModelUnavailable, "model_unavailable", False),
        (429, "RateLimitExceeded.EndpointRPMExceeded", client.SeedreamRateLimited, "rate_limited", True),
        (429, "QuotaExceeded", client.SeedreamQuotaExceeded, "quota_exceeded", False),
        (500, "InternalServiceError", client.SeedreamServerError, "provider_error", True),
        (503, "", client.SeedreamServerError, "provider_error", True),
    ],
)  # fmt: skip
def test_error_bodies_map_to_typed_errors(raw, status, code, error_type, product_code, retryable):
    raw.answer(status, {"error": {"code": code, "message": "nope", "param": "size", "type": "X"}},
               {"X-Request-Id": "srv-9"})  # fmt: skip
    with pytest.raises(error_type) as caught:
        call(raw)
    error = caught.value
    assert (error.code, error.retryable, error.http_status) == (product_code, retryable, status)
    assert error.provider_code == code
    assert error.request_id == "srv-9"
    assert KEY not in str(error) and KEY not in error.message


def test_invalid_parameter_message_names_the_parameter(raw):
    raw.answer(400, {"error": {"code": "InvalidParameter", "message": "bad", "param": "size"}})
    with pytest.raises(client.SeedreamInvalidParameter) as caught:
        call(raw)
    assert caught.value.message == "The provider rejected the parameter 'size'."


def test_retry_after_is_kept(raw):
    raw.answer(429, {"error": {"code": "RateLimitExceeded"}}, {"Retry-After": "7"})
    with pytest.raises(client.SeedreamRateLimited) as caught:
        call(raw)
    assert caught.value.retry_after == 7.0


def test_a_non_json_error_page_maps_by_status(raw):
    raw.answer(502, b"<html>Bad Gateway</html>")
    with pytest.raises(client.SeedreamServerError) as caught:
        call(raw)
    assert caught.value.retryable
    assert "Bad Gateway" in caught.value.detail


@pytest.mark.parametrize(
    "body",
    [
        b"garbage",
        b"[1, 2]",
        {"model": "m"},
        {"data": []},
        {"data": [{}]},
        {"data": [{"url": 5}]},
        {"data": [{"url": "file:///etc/passwd"}]},
        {"data": [{"b64_json": "***not base64***"}]},
        {"data": "x"},
    ],
)
def test_replies_off_the_contract_are_bad_responses(raw, body):
    raw.answer(200, body)
    with pytest.raises(client.SeedreamBadResponse) as caught:
        call(raw)
    assert (caught.value.code, caught.value.retryable) == ("bad_response", False)


def test_an_error_inside_a_200_is_that_error(raw):
    raw.answer(200, {"error": {"code": "InternalServiceError", "message": "oops"}})
    with pytest.raises(client.SeedreamServerError):
        call(raw)


def test_a_huge_garbage_body_gives_a_bounded_message(raw):
    raw.answer(500, b"x" * 10_000_000)
    with pytest.raises(client.SeedreamServerError) as caught:
        call(raw)
    assert len(str(caught.value)) < 1000
    assert len(caught.value.detail) <= client.EXCERPT_CHARS


def test_silence_is_a_timeout_that_may_have_been_billed(raw):
    raw.reply = "silence"
    with pytest.raises(client.SeedreamTimeout) as caught:
        call(raw, read_timeout=0.3)
    assert (caught.value.code, caught.value.retryable, caught.value.ambiguous) == (
        "timeout",
        True,
        True,
    )
    assert "took too long" in caught.value.message
    assert "could not be reached" not in caught.value.message


def test_a_reset_after_the_request_was_sent_is_a_lost_connection_that_may_have_been_billed(raw):
    raw.reply = "reset"
    with pytest.raises(client.SeedreamConnectionError) as caught:
        call(raw)
    assert len(raw.requests) == 1  # the provider read the whole request
    assert (caught.value.code, caught.value.ambiguous) == ("connection_lost", True)


def test_a_closed_port_is_a_connection_error_that_never_reached_the_provider():
    from gallery.devstack import free_port

    config = client.ClientConfig(base_url=f"http://127.0.0.1:{free_port()}/v1", api_key=KEY)
    with pytest.raises(client.SeedreamConnectionError) as caught:
        client.generate(PARAMS, config=config)
    assert (caught.value.code, caught.value.retryable, caught.value.ambiguous) == (
        "connection_error",
        True,
        False,
    )


def test_a_slow_drip_of_body_stops_at_the_total_deadline(raw):
    import time

    raw.reply = "drip"
    started = time.monotonic()
    with pytest.raises(client.SeedreamTimeout) as caught:
        call(raw, read_timeout=1.0, total_timeout=1.0)
    assert time.monotonic() - started < 1.8  # each byte came well within the read timeout
    assert caught.value.ambiguous


def test_a_redirect_is_not_followed(raw):
    raw.answer(307, b"", {"Location": f"http://127.0.0.1:{raw.port}/elsewhere"})
    with pytest.raises(client.SeedreamBadResponse) as caught:
        call(raw)
    assert len(raw.requests) == 1
    assert "redirect" in caught.value.detail


def test_a_body_over_the_limit_is_not_read(raw):
    raw.answer(200, {**OK, "padding": "x" * 5000})
    with pytest.raises(client.SeedreamBadResponse) as caught:
        call(raw, max_response_bytes=1000)
    assert "larger than 1,000 bytes" in caught.value.detail


def test_an_error_beside_usable_data_in_a_200_is_a_success_with_a_warning(raw):
    raw.answer(200, {**OK, "error": {"code": "PartialFailure", "message": "1 of 2 images lost"}})
    result = call(raw)
    assert result.url == "https://x.example/a.jpeg"
    assert "1 of 2 images lost" in result.warning


def test_b64_answer_and_reported_seed_and_size_are_kept(raw):
    b64 = base64.b64encode(b"\xff\xd8jpeg").decode()
    raw.answer(200, {"model": "m", "created": 1, "data": [{"b64_json": b64, "seed": 99, "size": "1024x1024"}],
                     "usage": {"generated_images": 1}})  # fmt: skip
    result = call(raw)
    assert (result.b64_json, result.url, result.seed, result.size) == (b64, None, 99, "1024x1024")
    assert client.ProviderResult.from_dict(result.to_dict()) == result


def test_against_the_emulator_every_parameter_arrives(emulator):
    config = client.ClientConfig(base_url=emulator.base_url, api_key=emulator.key)
    params = GenerationParams(prompt="p", size="1152x864", seed=4, guidance_scale=7.5,
                              watermark=True, response_format="b64_json")  # fmt: skip
    result = client.generate(params, config=config)
    from io import BytesIO

    from PIL import Image

    image = Image.open(BytesIO(base64.b64decode(result.b64_json)))
    assert image.size == (1152, 864)
    assert result.request_id
    again = client.generate(params, config=config)
    assert again.b64_json == result.b64_json  # same parameters, same picture


def test_against_the_emulator_a_wrong_key_is_an_auth_error(emulator):
    config = client.ClientConfig(base_url=emulator.base_url, api_key="wrong")
    with pytest.raises(client.SeedreamAuthError):
        client.generate(PARAMS, config=config)
