"""The emulator honours the Seedream contract over real HTTP: validation, errors, images,
signed expiring links, and its test controls."""

import base64
import io
import time

import pytest
import requests
from PIL import Image, ImageChops

from tests.fixtures.emulator import start_emulator

MODEL = "doubao-seedream-3-0-t2i-250415"


def post(emulator, body=None, *, key=None, headers=None, raw=None, path="/v1/images/generations"):
    sent = {"Authorization": f"Bearer {key or emulator.key}", "Content-Type": "application/json"}
    sent.update(headers or {})
    if raw is None:
        return requests.post(f"{emulator.url}{path}", json=body, headers=sent, timeout=10)
    return requests.post(f"{emulator.url}{path}", data=raw, headers=sent, timeout=10)


def body(**fields):
    return {"model": MODEL, "prompt": "a lighthouse at dusk", **fields}


def image_of(emulator, response) -> tuple[bytes, Image.Image]:
    item = response.json()["data"][0]
    if "b64_json" in item:
        data = base64.b64decode(item["b64_json"])
    else:
        got = requests.get(item["url"], timeout=10)
        assert got.status_code == 200
        assert got.headers["Content-Type"] == "image/jpeg"
        data = got.content
    return data, Image.open(io.BytesIO(data))


def assert_error(response, status, code, param=None):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert (
        "Request id:" not in error["message"]
        or response.headers["X-Request-Id"] in error["message"]
    )
    if param is not None:
        assert error["param"] == param
    assert set(error) == {"code", "message", "param", "type"}


def test_success_has_exactly_the_contract_shape(emulator):
    response = post(emulator, body(size="864x1152", seed=7, guidance_scale=3, watermark=False))
    assert response.status_code == 200
    payload = response.json()
    assert set(payload) == {"model", "created", "data", "usage"}
    assert payload["model"] == MODEL
    assert abs(payload["created"] - time.time()) < 60
    assert payload["usage"] == {"generated_images": 1}
    assert set(payload["data"][0]) == {"url"}
    assert response.headers["X-Request-Id"]
    data, image = image_of(emulator, response)
    assert image.format == "JPEG"
    assert image.size == (864, 1152)


def test_the_provider_path_answers_too(emulator):
    assert post(emulator, body(), path="/api/v3/images/generations").status_code == 200


@pytest.mark.parametrize(
    ("key", "header"),
    [("wrong-key", None), (None, {"Authorization": ""}), (None, {"Authorization": "Basic abc"})],
)
def test_missing_or_wrong_key_is_401(emulator, key, header):
    response = post(emulator, body(), key=key, headers=header)
    assert_error(response, 401, "AuthenticationError")


@pytest.mark.parametrize(
    ("fields", "code", "param"),
    [
        ({"prompt": None}, "MissingParameter", "prompt"),
        ({"prompt": "  "}, "MissingParameter", "prompt"),
        ({"prompt": 42}, "InvalidParameter", "prompt"),
        ({"prompt": "x" * 2001}, "InvalidParameter", "prompt"),
        ({"size": "big"}, "InvalidParameter", "size"),
        ({"size": "100x100"}, "InvalidParameter", "size"),
        ({"size": "4096x4096"}, "InvalidParameter", "size"),
        ({"size": 1024}, "InvalidParameter", "size"),
        ({"seed": "12"}, "InvalidParameter", "seed"),
        ({"seed": True}, "InvalidParameter", "seed"),
        ({"seed": 1.5}, "InvalidParameter", "seed"),
        ({"seed": -2}, "InvalidParameter", "seed"),
        ({"seed": 2147483648}, "InvalidParameter", "seed"),
        ({"guidance_scale": 0.5}, "InvalidParameter", "guidance_scale"),
        ({"guidance_scale": 11}, "InvalidParameter", "guidance_scale"),
        ({"guidance_scale": "2"}, "InvalidParameter", "guidance_scale"),
        ({"watermark": "yes"}, "InvalidParameter", "watermark"),
        ({"response_format": "png"}, "InvalidParameter", "response_format"),
        ({"stream": True}, "InvalidParameter", "stream"),
        ({"image": "https://example.com/a.png"}, "InvalidParameter", "image"),
        ({"model": None}, "MissingParameter", "model"),
    ],
)
def test_each_invalid_field_is_a_400_naming_it(emulator, fields, code, param):
    assert_error(post(emulator, body(**fields)), 400, code, param)


def test_unknown_model_is_404(emulator):
    assert_error(post(emulator, body(model="doubao-seedream-9")), 404, "InvalidEndpointOrModel")


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe"])
def test_a_body_that_is_not_json_is_400(emulator, raw):
    assert_error(post(emulator, raw=raw), 400, "InvalidParameter", "body")


def test_a_json_list_is_400(emulator):
    assert_error(post(emulator, [body()]), 400, "InvalidParameter", "body")


def test_wrong_content_type_is_400(emulator):
    response = post(emulator, raw=b'{"model": "x"}', headers={"Content-Type": "text/plain"})
    assert_error(response, 400, "InvalidParameter", "body")


def test_nulls_read_as_absent_like_the_official_sdk_sends_them(emulator):
    sdk_style = body(
        size=None, seed=None, guidance_scale=None, watermark=None, response_format=None,
        image=None, stream=None, optimize_prompt=None, sequential_image_generation=None,
        output_format=None,
    )  # fmt: skip
    response = post(emulator, sdk_style)
    assert response.status_code == 200, response.text
    assert image_of(emulator, response)[1].size == (1024, 1024)


def test_same_request_same_bytes_and_another_seed_another_image(emulator):
    first, _ = image_of(emulator, post(emulator, body(seed=5)))
    again, _ = image_of(emulator, post(emulator, body(seed=5)))
    other, _ = image_of(emulator, post(emulator, body(seed=6)))
    assert first == again
    a, b = Image.open(io.BytesIO(first)).convert("L"), Image.open(io.BytesIO(other)).convert("L")
    difference = ImageChops.difference(a, b).resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    assert difference > 10  # visibly different, not just noise


def test_random_seed_gives_different_images(emulator):
    first, _ = image_of(emulator, post(emulator, body()))
    second, _ = image_of(emulator, post(emulator, body(seed=-1)))
    assert first != second


def test_images_weigh_what_a_real_one_does(emulator):
    data, _ = image_of(emulator, post(emulator, body(seed=1)))
    assert 80_000 < len(data) < 400_000


def test_watermark_marks_the_bottom_right_corner_only(emulator):
    _, plain = image_of(emulator, post(emulator, body(seed=9, watermark=False)))
    _, marked = image_of(emulator, post(emulator, body(seed=9, watermark=True)))
    w, h = plain.size
    diff = ImageChops.difference(plain.convert("L"), marked.convert("L"))
    changed = diff.point(lambda v: 255 if v > 40 else 0).getbbox()
    assert changed is not None
    left, top, right, bottom = changed
    assert left > w // 2 and top > h * 3 // 4  # the mark sits in the bottom-right corner
    assert right >= w - 40 and bottom >= h - 40


def test_b64_json_returns_the_jpeg_inline(emulator):
    response = post(emulator, body(response_format="b64_json", size="1280x720"))
    assert set(response.json()["data"][0]) == {"b64_json"}
    data, image = image_of(emulator, response)
    assert data[:2] == b"\xff\xd8"
    assert image.size == (1280, 720)


def test_a_tampered_link_is_refused(emulator):
    url = post(emulator, body()).json()["data"][0]["url"]
    token_start = url.index("/_emulator/images/") + len("/_emulator/images/")
    tampered = (
        url[:token_start] + ("A" if url[token_start] != "A" else "B") + url[token_start + 1 :]
    )
    assert requests.get(tampered, timeout=10).status_code == 403


def test_links_expire_like_the_provider_storage(tmp_path):
    short, proc = start_emulator(tmp_path, "--url-ttl", "1")
    try:
        url = post(short, body()).json()["data"][0]["url"]
        assert requests.get(url, timeout=10).status_code == 200
        time.sleep(2.1)
        expired = requests.get(url, timeout=10)
        assert expired.status_code == 403
        assert b"expired" in expired.content
    finally:
        from gallery import devstack

        devstack.stop(proc)


def test_stats_count_requests_images_statuses_and_codes(emulator):
    post(emulator, body())
    post(emulator, body(), key="wrong")
    post(emulator, body(size="1x1"))
    stats = emulator.stats()
    assert stats["requests"] == 3
    assert stats["images"] == 1
    assert stats["by_status"] == {"200": 1, "401": 1, "400": 1}
    assert stats["by_code"] == {"AuthenticationError": 1, "InvalidParameter": 1}
    emulator.reset()
    assert emulator.stats()["requests"] == 0


@pytest.mark.parametrize(
    ("spec", "status", "code"),
    [
        ({"status": 429, "code": "RateLimitExceeded"}, 429, "RateLimitExceeded"),
        ({"status": 500}, 500, "InternalServiceError"),
        ({"status": 401}, 401, "AuthenticationError"),
        ({"status": 400, "code": "OutputImageSensitiveContentDetected"}, 400,
         "OutputImageSensitiveContentDetected"),
    ],
)  # fmt: skip
def test_injected_errors_answer_the_next_requests(emulator, spec, status, code):
    emulator.faults(count=2, **spec)
    for _ in range(2):
        assert_error(post(emulator, body()), status, code)
    assert post(emulator, body()).status_code == 200


def test_injected_latency_delays_the_answer(emulator):
    emulator.faults(count=1, kind="latency", latency_s=0.6, status=200)
    started = time.monotonic()
    assert post(emulator, body()).status_code == 200
    assert time.monotonic() - started >= 0.6


def test_malformed_body_no_data_and_error_in_200(emulator):
    emulator.faults(count=1, status=200, kind="malformed_body")
    emulator.faults(count=1, status=200, kind="no_data")
    emulator.faults(count=1, status=200, kind="error_in_200", code="InternalServiceError")
    malformed = post(emulator, body())
    assert malformed.status_code == 200
    with pytest.raises(ValueError):
        malformed.json()
    assert post(emulator, body()).json()["data"] == []
    in_200 = post(emulator, body())
    assert in_200.status_code == 200
    assert in_200.json()["error"]["code"] == "InternalServiceError"


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("url_404", lambda r: r.status_code == 404),
        (
            "url_html",
            lambda r: r.status_code == 200 and r.headers["Content-Type"].startswith("text/html"),
        ),
        ("url_truncated", lambda r: r.status_code == 200 and not r.content.endswith(b"\xff\xd9")),
        ("url_wrong_size", lambda r: Image.open(io.BytesIO(r.content)).size == (512, 512)),
    ],
)
def test_broken_image_links(emulator, kind, check):
    emulator.faults(count=1, status=200, kind=kind)
    url = post(emulator, body()).json()["data"][0]["url"]
    assert check(requests.get(url, timeout=10))


@pytest.mark.parametrize(
    "spec",
    [
        {"count": 0, "status": 500},
        {"count": "two", "status": 500},
        {"count": 1, "status": 99},
        {"count": 1, "status": 200},
        {"count": 1, "status": 500, "kind": "explode"},
        {"count": 1, "status": 200, "kind": "error"},
        {"count": 1, "status": 500, "latency_s": -1},
        {"count": 1, "status": 500, "latency_s": 1000},
        [1, 2],
    ],
)
def test_bad_fault_specs_are_refused(emulator, spec):
    response = requests.post(f"{emulator.url}/_emulator/faults", json=spec, timeout=5)
    assert response.status_code == 400
    assert response.json()["error"]
    assert emulator.stats()["faults_pending"] == 0


def test_the_command_refuses_to_start_without_keys(settings):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    settings.SEEDREAM_EMULATOR_KEYS = []
    with pytest.raises(CommandError, match="no API keys"):
        call_command("seedream_emulator", "--keys", "")
