"""The emulator's images: real JPEGs of the requested size, the same bytes for the same request,
a visible watermark, and signed links that expire and refuse tampering."""

import base64
import io
import json
import time

import pytest
import requests
from PIL import Image, ImageChops

from tests.fixtures.emulator import generation_body as body
from tests.fixtures.emulator import image_bytes, running_emulator
from tests.fixtures.emulator import post_generation as post

PUBLIC_URL = "http://images.example.test:9000"


def picture(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def mean_difference(a: bytes, b: bytes, box: tuple[int, int, int, int] | None = None) -> float:
    """Mean absolute grey-level difference, 0 to 255, over the box or the whole image."""
    first, second = picture(a).convert("L"), picture(b).convert("L")
    if box:
        first, second = first.crop(box), second.crop(box)
    difference = ImageChops.difference(first, second)
    return sum(i * n for i, n in enumerate(difference.histogram())) / (
        difference.width * difference.height
    )


def fetch_link(response: requests.Response) -> requests.Response:
    return requests.get(response.json()["data"][0]["url"], timeout=10)


def test_the_default_image_is_a_1024_square_jpeg(emulator):
    response = post(emulator, body())
    fetched = fetch_link(response)
    assert fetched.status_code == 200
    assert fetched.headers["Content-Type"] == "image/jpeg"
    assert fetched.content[:3] == b"\xff\xd8\xff"
    image = picture(fetched.content)
    assert (image.format, image.size, image.mode) == ("JPEG", (1024, 1024), "RGB")


@pytest.mark.parametrize("size", ["864x1152", "1512x648", "1280x720", "1001x777", "1536x256"])
def test_the_image_has_exactly_the_requested_size(emulator, size):
    image = picture(image_bytes(post(emulator, body(size=size))))
    assert f"{image.width}x{image.height}" == size


def test_images_weigh_what_a_real_one_does(emulator):
    # The provider's 1024x1024 JPEGs are ~150 KB; a flat image would make downloads too cheap.
    assert 80_000 < len(image_bytes(post(emulator, body(seed=1)))) < 400_000


def test_the_same_request_gives_the_same_bytes(emulator):
    fields = {"seed": 5, "size": "864x1152", "guidance_scale": 4.0, "watermark": True}
    first = image_bytes(post(emulator, body(**fields)))
    assert image_bytes(post(emulator, body(**fields))) == first
    b64 = image_bytes(post(emulator, body(response_format="b64_json", **fields)))
    assert b64 == first


def test_another_seed_gives_a_visibly_different_image(emulator):
    first = image_bytes(post(emulator, body(seed=5)))
    other = image_bytes(post(emulator, body(seed=6)))
    assert mean_difference(first, other) > 10


@pytest.mark.parametrize("change", [{"prompt": "a fox in snow"}, {"guidance_scale": 7.5}])
def test_prompt_and_guidance_change_the_image(emulator, change):
    first = image_bytes(post(emulator, body(seed=5)))
    assert image_bytes(post(emulator, body(seed=5, **change))) != first


@pytest.mark.parametrize("seed", [None, -1])
def test_a_random_seed_gives_a_new_image_each_time(emulator, seed):
    fields = {} if seed is None else {"seed": seed}
    first = image_bytes(post(emulator, body(**fields)))
    second = image_bytes(post(emulator, body(**fields)))
    # Two random palettes can by chance look alike, so only "not the same picture" is certain.
    assert first != second
    assert mean_difference(first, second) > 0


def test_the_watermark_marks_the_bottom_right_corner_only(emulator):
    plain = image_bytes(post(emulator, body(seed=9, watermark=False)))
    marked = image_bytes(post(emulator, body(seed=9, watermark=True)))
    assert mean_difference(plain, marked, (768, 960, 1024, 1024)) > 20
    assert mean_difference(plain, marked, (0, 0, 1024, 768)) < 1
    assert mean_difference(plain, marked, (0, 768, 384, 1024)) < 1


def test_b64_json_carries_the_jpeg_inline(emulator):
    response = post(emulator, body(response_format="b64_json", size="1280x720"))
    assert response.status_code == 200
    item = response.json()["data"][0]
    assert set(item) == {"b64_json"}
    image = picture(base64.b64decode(item["b64_json"], validate=True))
    assert (image.format, image.size) == ("JPEG", (1280, 720))


def test_the_link_points_at_the_host_the_request_came_to(emulator):
    response = post(emulator, body())
    assert response.json()["data"][0]["url"].startswith(f"{emulator.url}/_emulator/images/")
    renamed = post(emulator, body(), headers={"Host": "emulator.internal:8090"})
    assert renamed.json()["data"][0]["url"].startswith("http://emulator.internal:8090/")


def split_link(url: str) -> tuple[str, str, str, str]:
    """(prefix, payload, signature, suffix) of an image link."""
    prefix, _, rest = url.partition("/_emulator/images/")
    token, _, suffix = rest.partition(".jpeg")
    payload, _, signature = token.rpartition(".")
    return f"{prefix}/_emulator/images/", payload, signature, f".jpeg{suffix}"


def decoded(payload: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def encoded(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def assert_refused(url: str, code: str) -> None:
    response = requests.get(url, timeout=10)
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("application/xml")
    assert f"<Code>{code}</Code>" in response.text


def fetch_link_url(emulator) -> str:
    url = post(emulator, body(seed=3)).json()["data"][0]["url"]
    assert requests.get(url, timeout=10).status_code == 200
    return url


def test_a_link_with_altered_parameters_is_refused(emulator):
    prefix, payload, signature, suffix = split_link(fetch_link_url(emulator))
    bigger = encoded({**decoded(payload), "w": 2048, "h": 2048})
    assert_refused(f"{prefix}{bigger}.{signature}{suffix}", "SignatureDoesNotMatch")


def test_a_link_with_a_forged_signature_is_refused(emulator):
    prefix, payload, signature, suffix = split_link(fetch_link_url(emulator))
    forged = ("0" if signature[0] != "0" else "1") + signature[1:]
    assert_refused(f"{prefix}{payload}.{forged}{suffix}", "SignatureDoesNotMatch")
    assert_refused(f"{prefix}{payload}{suffix}", "SignatureDoesNotMatch")


def test_a_link_with_a_later_expiry_is_refused(emulator):
    prefix, payload, signature, suffix = split_link(fetch_link_url(emulator))
    later = encoded({**decoded(payload), "x": decoded(payload)["x"] + 3600})
    assert_refused(f"{prefix}{later}.{signature}{suffix}", "SignatureDoesNotMatch")


def test_links_expire_and_use_the_public_url(tmp_path):
    env = {"SEEDREAM_EMULATOR_PUBLIC_URL": PUBLIC_URL}
    with running_emulator(tmp_path, "--url-ttl", "1", env=env) as short_lived:
        url = post(short_lived, body()).json()["data"][0]["url"]
        assert url.startswith(f"{PUBLIC_URL}/_emulator/images/")
        local = short_lived.url + url.removeprefix(PUBLIC_URL)
        assert requests.get(local, timeout=10).status_code == 200
        time.sleep(2.05)
        assert_refused(local, "AccessDenied")
        assert "expired" in requests.get(local, timeout=10).text


# --- Drawing ahead: a `url` answer's picture is drawn during the wait, once ----------------


@pytest.fixture
def counted_draws(monkeypatch):
    """Every picture the emulator draws, in order (the real drawing still happens)."""
    from gallery.seedream import emulator

    draws, real = [], emulator.render_jpeg
    monkeypatch.setattr(emulator, "render_jpeg", lambda p: draws.append(p) or real(p))
    return draws


def test_an_answered_picture_is_drawn_once_before_its_link_is_fetched(counted_draws):
    from gallery.seedream.emulator import ImageCache, Picture, render_jpeg

    cache = ImageCache(draw_threads=1)
    kite = Picture("a red kite", 7, 512, 512, 2.5, False)
    cache.prepare(kite)
    cache.prepare(kite)  # a second answer for the same picture draws nothing more
    cache.drawing.shutdown(wait=True)  # the answer's wait is over
    assert counted_draws == [kite]
    data = cache.get(kite)
    assert counted_draws == [kite]  # the fetch drew nothing
    assert data == render_jpeg(kite)
    assert not cache.pending


def test_a_link_fetched_before_its_drawing_started_is_drawn_once_by_the_fetch(counted_draws):
    import threading

    from gallery.seedream.emulator import ImageCache, Picture

    cache = ImageCache(draw_threads=1)
    gate = threading.Event()
    cache.drawing.submit(gate.wait, 10)  # the drawing thread is busy elsewhere
    kite = Picture("a red kite", 8, 512, 512, 2.5, False)
    cache.prepare(kite)
    data = cache.get(kite)  # takes the queued drawing over instead of waiting for it
    gate.set()
    cache.drawing.shutdown(wait=True)
    assert counted_draws == [kite]
    assert picture(data).size == (512, 512)
    assert not cache.pending
