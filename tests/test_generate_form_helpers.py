"""The generate form remembers and helps: last used settings, "Same settings", named ratio
presets, errors that point at themselves, and a warning when the quota runs short."""

import re

import pytest

from gallery.models import Generation
from tests.test_gallery_pages import make_generation
from tests.test_generate_form import VALID, post

pytestmark = pytest.mark.django_db


def field_value(html: str, name: str) -> str | None:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html).group(0)
    value = re.search(r'value="([^"]*)"', tag)
    return value.group(1) if value else None


def test_a_new_form_keeps_the_members_last_used_settings(alice_client):
    post(alice_client, size="1280x720", guidance_scale="7.5", watermark="on", variations="3")
    html = alice_client.get("/generate/").content.decode()
    assert field_value(html, "size") == "1280x720"
    assert field_value(html, "guidance_scale") == "7.5"
    assert field_value(html, "variations") == "3"
    assert re.search(r'<input[^>]*name="watermark"[^>]*checked', html)
    assert re.search(r'id="id_prompt">\s*</textarea>', html)  # a fresh prompt


def test_last_used_settings_are_each_members_own(alice_client, bob):
    make_generation(bob, width=720, height=1280)
    html = alice_client.get("/generate/").content.decode()
    assert field_value(html, "size") == "1024x1024"


def test_same_settings_fills_in_the_batch_prompt_and_settings(alice_client):
    post(alice_client, seed="42", size="864x1152", variations="2")
    batch = Generation.objects.first().batch
    post(alice_client, size="1024x1024")  # a later batch does not change "Same settings"
    html = alice_client.get(f"/generate/?from={batch}").content.decode()
    assert "A porcelain fox in morning fog</textarea>" in html
    assert field_value(html, "size") == "864x1152"
    assert field_value(html, "seed") == "42"
    assert field_value(html, "variations") == "2"


def test_same_settings_leaves_a_random_seed_random(alice_client):
    post(alice_client, seed="")
    batch = Generation.objects.get().batch
    html = alice_client.get(f"/generate/?from={batch}").content.decode()
    assert field_value(html, "seed") is None


@pytest.mark.parametrize("source", ["banana", "7d1f7c55-0000-4000-8000-000000000000", ""])
def test_same_settings_from_an_unknown_batch_opens_the_usual_form(alice_client, source):
    response = alice_client.get(f"/generate/?from={source}")
    assert response.status_code == 200
    assert field_value(response.content.decode(), "size") == "1024x1024"


def test_same_settings_cannot_read_another_members_prompt(alice_client, bob):
    job = make_generation(bob, prompt="bob's private idea")
    html = alice_client.get(f"/generate/?from={job.batch}").content.decode()
    assert "private idea" not in html


def test_presets_name_their_ratios(alice_client):
    html = alice_client.get("/generate/").content.decode()
    for ratio in ("1:1", "3:4", "4:3", "16:9", "9:16", "2:3", "3:2", "21:9"):
        assert f'<strong class="ratio">{ratio}</strong>' in html


def test_invalid_fields_are_marked_summarised_and_the_first_takes_focus(alice_client):
    response = post(alice_client, size="100x100", seed="banana")
    html = response.content.decode()
    assert 'id="error-summary"' in html
    assert '<a href="#id_size">Size</a>' in html and '<a href="#id_seed">Seed</a>' in html
    size = re.search(r'<input[^>]*name="size"[^>]*>', html).group(0)
    seed = re.search(r'<input[^>]*name="seed"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in size and "autofocus" in size
    assert 'aria-invalid="true"' in seed and "autofocus" not in seed
    assert "error_size" in size and 'id="error_size"' in html


def test_a_valid_form_has_no_error_marks(alice_client):
    html = alice_client.get("/generate/").content.decode()
    assert "aria-invalid" not in html and "error-summary" not in html


def test_quota_warning_when_fewer_images_are_left_than_asked(alice_client, settings):
    settings.GENERATION_DAILY_IMAGE_LIMIT = 3
    post(alice_client, variations="2")
    html = alice_client.get("/generate/").content.decode()  # last used: 2, left: 1
    assert re.search(r'<p class="warn quota-warning" id="quota-warning" >', html)
    assert "Only 1 image is left today" in html
    assert 'data-images-left="1"' in html


def test_no_quota_warning_with_room_left(alice_client):
    html = alice_client.get("/generate/").content.decode()
    assert 'id="quota-warning" hidden' in html


def test_a_post_over_quota_still_keeps_what_was_typed(alice_client, settings):
    settings.GENERATION_DAILY_IMAGE_LIMIT = 1
    response = post(alice_client, variations="2", prompt="keep me")
    html = response.content.decode()
    assert response.status_code == 400 and "keep me</textarea>" in html
    assert "Only 1 image is left today" in html
    assert VALID["size"] in html
