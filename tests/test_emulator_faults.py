"""The emulator's test controls: injected faults of every kind, refused fault specs, counters
and reset; its configured latency, which many slow requests share without queueing; and the
command's refusal to start without keys."""

import io
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from PIL import Image

from gallery import devstack
from tests.fixtures.emulator import generation_body as body
from tests.fixtures.emulator import post_generation as post
from tests.fixtures.emulator import running_emulator

ROOT = Path(__file__).resolve().parent.parent


def assert_error(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"].endswith(f"Request id: {response.headers['X-Request-Id']}")


@pytest.mark.parametrize(
    ("spec", "status", "code"),
    [
        ({"status": 429, "code": "RateLimitExceeded"}, 429, "RateLimitExceeded"),
        ({"status": 429, "code": "RateLimitExceeded.EndpointRPMExceeded"}, 429,
         "RateLimitExceeded.EndpointRPMExceeded"),
        ({"code": "QuotaExceeded"}, 429, "QuotaExceeded"),
        ({"code": "OutputImageSensitiveContentDetected"}, 400,
         "OutputImageSensitiveContentDetected"),
        ({"status": 500}, 500, "InternalServiceError"),
        ({"status": 503}, 503, "InternalServiceError"),
        ({"status": 400}, 400, "InvalidParameter"),
        ({"status": 401}, 401, "AuthenticationError"),
        ({"status": 403}, 403, "AccessDenied"),
        ({"status": 404}, 404, "InvalidEndpointOrModel"),
        ({"status": 429}, 429, "RateLimitExceeded"),
        ({"kind": "error", "status": 418, "code": "Teapot"}, 418, "Teapot"),
        ({}, 500, "InternalServiceError"),
    ],
)  # fmt: skip
def test_injected_errors_answer_the_next_count_requests(emulator, spec, status, code):
    emulator.faults(count=2, **spec)
    for _ in range(2):
        assert_error(post(emulator, body()), status, code)
    assert post(emulator, body()).status_code == 200


def test_an_injected_error_answers_whatever_the_request(emulator):
    emulator.faults(count=1, status=429)
    assert_error(post(emulator, raw=b"{not json", key="wrong"), 429, "RateLimitExceeded")


def test_faults_queue_in_order(emulator):
    emulator.faults(count=1, status=500)
    emulator.faults(count=1, status=429)
    statuses = [post(emulator, body()).status_code for _ in range(3)]
    assert statuses == [500, 429, 200]


def test_latency_delays_a_normal_answer(emulator):
    emulator.faults(count=1, kind="latency", latency_s=0.5)
    started = time.monotonic()
    response = post(emulator, body())
    assert time.monotonic() - started >= 0.5
    assert response.status_code == 200 and set(response.json()["data"][0]) == {"url"}
    started = time.monotonic()
    post(emulator, body())
    assert time.monotonic() - started < 0.4


def test_an_error_can_come_late(emulator):
    emulator.faults(count=1, status=500, latency_s=0.4)
    started = time.monotonic()
    assert_error(post(emulator, body()), 500, "InternalServiceError")
    assert time.monotonic() - started >= 0.4


@pytest.mark.parametrize("status", [None, 502])
def test_a_malformed_body_is_not_json(emulator, status):
    emulator.faults(count=1, kind="malformed_body", **({"status": status} if status else {}))
    response = post(emulator, body())
    assert response.status_code == (status or 200)
    with pytest.raises(ValueError):
        response.json()


def test_no_data_is_a_200_without_images(emulator):
    emulator.faults(count=1, kind="no_data")
    response = post(emulator, body())
    assert response.status_code == 200
    assert response.json()["data"] == []
    assert "error" not in response.json()


@pytest.mark.parametrize(("code", "expected"), [(None, "InternalServiceError"),
                                                ("ServerOverloaded", "ServerOverloaded")])  # fmt: skip
def test_an_error_inside_a_200(emulator, code, expected):
    emulator.faults(count=1, kind="error_in_200", **({"code": code} if code else {}))
    response = post(emulator, body())
    assert response.status_code == 200
    assert "data" not in response.json()
    assert response.json()["error"]["code"] == expected


def broken_link(emulator, kind: str) -> requests.Response:
    emulator.faults(count=1, status=200, kind=kind)
    response = post(emulator, body(size="1024x1024"))
    assert response.status_code == 200
    assert response.json()["usage"] == {"generated_images": 1}
    return requests.get(response.json()["data"][0]["url"], timeout=10)


def test_a_link_that_answers_404(emulator):
    fetched = broken_link(emulator, "url_404")
    assert fetched.status_code == 404
    assert "<Code>NoSuchKey</Code>" in fetched.text


def test_a_link_that_answers_an_html_page(emulator):
    fetched = broken_link(emulator, "url_html")
    assert fetched.status_code == 200
    assert fetched.headers["Content-Type"].startswith("text/html")
    assert fetched.content.lstrip().startswith(b"<html")


def test_a_link_that_answers_a_truncated_jpeg(emulator):
    fetched = broken_link(emulator, "url_truncated")
    assert fetched.status_code == 200
    assert fetched.headers["Content-Type"] == "image/jpeg"
    assert fetched.content[:3] == b"\xff\xd8\xff" and not fetched.content.endswith(b"\xff\xd9")
    with pytest.raises(OSError):
        Image.open(io.BytesIO(fetched.content)).load()


def test_a_link_that_answers_another_size(emulator):
    fetched = broken_link(emulator, "url_wrong_size")
    image = Image.open(io.BytesIO(fetched.content))
    image.load()
    assert (image.format, image.size) == ("JPEG", (512, 512))


def test_a_reset_closes_the_connection_unanswered(emulator):
    emulator.faults(count=1, kind="reset")
    with pytest.raises(requests.ConnectionError):
        post(emulator, body())
    assert post(emulator, body()).status_code == 200
    assert emulator.stats()["by_status"] == {"reset": 1, "200": 1}


@pytest.mark.parametrize(
    "spec",
    [
        {"count": 0, "status": 500},
        {"count": "two", "status": 500},
        {"count": True, "status": 500},
        {"count": 100_001, "status": 500},
        {"count": 1, "status": 99},
        {"count": 1, "status": 600},
        {"count": 1, "status": "500"},
        {"count": 1, "status": 200},
        {"count": 1, "status": 302, "kind": "error"},
        {"count": 1, "status": 500, "kind": "explode"},
        {"count": 1, "status": 500, "kind": "url_404"},
        {"count": 1, "kind": "latency"},
        {"count": 1, "status": 500, "latency_s": -1},
        {"count": 1, "status": 500, "latency_s": 1000},
        {"count": 1, "status": 500, "latency_s": "1"},
        {"count": 1, "status": 500, "code": 42},
        {"count": 1, "status": 500, "code": "Rate Limit!"},
        {"count": 1, "code": "SomethingNew"},
        {"count": 1, "status": 500, "latency": 1},
        [{"count": 1, "status": 500}],
    ],
)
def test_bad_fault_specs_are_refused_with_a_reason(emulator, spec):
    response = requests.post(f"{emulator.url}/_emulator/faults", json=spec, timeout=5)
    assert response.status_code == 400
    assert response.json()["error"].startswith("bad fault spec: ")
    assert emulator.stats()["faults_pending"] == 0


def test_a_fault_spec_that_is_not_json_is_refused(emulator):
    response = requests.post(f"{emulator.url}/_emulator/faults", data=b"{count: 1}", timeout=5)
    assert response.status_code == 400
    assert "bad fault spec" in response.json()["error"]


def test_the_fixture_raises_on_a_refused_fault(emulator):
    with pytest.raises(RuntimeError, match="count must be an integer"):
        emulator.faults(count=0, status=500)


def test_stats_count_generation_requests_images_statuses_and_codes(emulator):
    image_url = post(emulator, body()).json()["data"][0]["url"]
    requests.get(image_url, timeout=10)  # fetching the image is not a generation request
    post(emulator, body(response_format="b64_json"))
    post(emulator, body(), key="wrong")
    post(emulator, body(size="1x1"))
    emulator.faults(count=1, kind="no_data")
    post(emulator, body())
    assert emulator.stats() == {
        "requests": 5,
        "images": 2,
        "by_status": {"200": 3, "401": 1, "400": 1},
        "by_code": {"AuthenticationError": 1, "InvalidParameter": 1},
        "faults_pending": 0,
    }


def test_reset_clears_counters_and_pending_faults(emulator):
    post(emulator, body())
    emulator.faults(count=3, status=500)
    assert emulator.stats()["faults_pending"] == 3
    emulator.reset()
    assert emulator.stats() == {
        "requests": 0, "images": 0, "by_status": {}, "by_code": {}, "faults_pending": 0,
    }  # fmt: skip
    assert post(emulator, body()).status_code == 200


def test_configured_latency_is_shared_by_concurrent_requests(tmp_path):
    latency, count = 1.0, 100

    def timed(server, i: int) -> tuple[int, float]:
        started = time.monotonic()
        key = "wrong" if i == 0 else None  # every generation request waits, errors too
        status = post(server, body(seed=i), key=key).status_code
        return status, time.monotonic() - started

    with running_emulator(tmp_path, "--latency", str(latency)) as slow:
        with ThreadPoolExecutor(max_workers=count) as pool:
            started = time.monotonic()
            answers = list(pool.map(lambda i: timed(slow, i), range(count)))
            wall = time.monotonic() - started
    assert [status for status, _ in answers] == [401] + [200] * (count - 1)
    assert min(elapsed for _, elapsed in answers) >= latency
    # Served one after another they would take count x latency (100 s); the speed itself is
    # bench/bench_emulator.py's to measure, so a loaded machine's slack is no failure here.
    assert wall < latency * count / 10


def test_the_command_refuses_to_start_without_keys():
    env = {**os.environ, "SEEDREAM_EMULATOR_KEYS": ""}
    argv = [sys.executable, str(ROOT / "manage.py"), "seedream_emulator",
            "--port", str(devstack.free_port())]  # fmt: skip
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "CommandError: no API keys: set SEEDREAM_EMULATOR_KEYS (comma-separated) or pass --keys"
    ]
