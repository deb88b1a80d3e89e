"""The emulator's images-per-minute limit over HTTP: 429 with the provider's code past it."""

import pytest
from django.core.management import CommandError, call_command

from gallery.seedream.emulator import IPM_WINDOW_S, State
from tests.fixtures.emulator import generation_body, post_generation, running_emulator


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    with running_emulator(tmp_path_factory.mktemp("ipm"), "--ipm", "3") as server:
        yield server


@pytest.fixture
def emulator3(limited):
    limited.reset()
    return limited


def test_images_past_the_limit_get_429_with_the_providers_code(emulator3):
    statuses = [post_generation(emulator3, generation_body()).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = post_generation(emulator3, generation_body())
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "ModelAccountIpmRateLimitExceeded"
    assert "images per minute" in error["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    stats = emulator3.stats()
    assert stats["images"] == 3
    assert stats["by_status"] == {"200": 3, "429": 1}


def test_refused_and_invalid_requests_do_not_count_against_the_limit(emulator3):
    for _ in range(2):
        assert post_generation(emulator3, generation_body(size="7x7")).status_code == 400
        assert post_generation(emulator3, generation_body(), key="wrong").status_code == 401
    statuses = [post_generation(emulator3, generation_body()).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_reset_clears_the_window(emulator3):
    for _ in range(3):
        post_generation(emulator3, generation_body())
    assert post_generation(emulator3, generation_body()).status_code == 429
    emulator3.reset()
    assert post_generation(emulator3, generation_body()).status_code == 200


def test_the_window_slides_one_minute(tmp_path):
    state = State()
    assert [state.take_ipm(2, now) for now in (0.0, 10.0)] == [0.0, 0.0]
    assert state.take_ipm(2, 30.0) == pytest.approx(IPM_WINDOW_S - 30.0)
    assert state.take_ipm(2, 60.5) == 0.0  # the first image has left the window
    assert state.take_ipm(2, 61.0) == pytest.approx(10.0 + IPM_WINDOW_S - 61.0)


def test_the_default_emulator_has_no_limit(emulator):
    statuses = {post_generation(emulator, generation_body()).status_code for _ in range(8)}
    assert statuses == {200}


def test_a_negative_limit_is_refused():
    with pytest.raises(CommandError, match="and --ipm must be >= 0"):
        call_command("seedream_emulator", "--ipm", "-1", "--keys", "k")
