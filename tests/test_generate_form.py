"""The generate form: every bad value is a field error and queues nothing."""

import pytest

from gallery.models import Generation

VALID = {
    "prompt": "A porcelain fox in morning fog",
    "size": "1024x1024",
    "seed": "",
    "guidance_scale": "2.5",
    "model": "doubao-seedream-3-0-t2i-250415",
    "variations": "1",
}


def post(client, **changes):
    return client.post("/generate/", {**VALID, **changes})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("prompt", "", "This field is required."),
        ("prompt", "   ", "This field is required."),
        ("prompt", "x" * 2001, "at most 2000 characters"),
        ("size", "1024", "is not of the form WIDTHxHEIGHT"),
        ("size", "axb", "is not of the form WIDTHxHEIGHT"),
        ("size", "256x256", "each side must be between 512 and 2048"),
        ("size", "4096x1024", "each side must be between 512 and 2048"),
        ("size", "2048x600", "Size 2048x600 is too wide: the aspect ratio may be at most 3:1"),
        ("size", "600x2048", "Size 600x2048 is too narrow: the aspect ratio may be at most 3:1"),
        ("size", "", "This field is required."),
        ("seed", "abc", "Seed must be a whole number"),
        ("seed", "1.5", "Seed must be a whole number"),
        ("seed", "-2", "Seed must be between 0 and 2147483647"),
        ("seed", "2147483648", "Seed must be between 0 and 2147483647"),
        ("guidance_scale", "0.5", "Guidance scale must be between 1 and 10."),
        ("guidance_scale", "10.5", "Guidance scale must be between 1 and 10."),
        ("guidance_scale", "lots", "Enter a number."),
        ("guidance_scale", "nan", "Enter a number."),
        ("model", "dall-e-3", "Select a valid choice."),
        ("variations", "0", "Variations must be between 1 and 4"),
        ("variations", "5", "Variations must be between 1 and 4"),
        ("variations", "two", "Enter a whole number."),
    ],
)
def test_bad_value_is_a_field_error_and_queues_nothing(
    alice_client, django_capture_on_commit_callbacks, field, value, message
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(alice_client, **{field: value})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    assert any(message in error for error in errors[field]), errors[field]
    assert Generation.objects.count() == 0
    assert callbacks == []


@pytest.mark.django_db
def test_valid_submit_creates_one_job_per_variation_each_with_its_own_seed(
    alice_client, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(alice_client, variations="3", size="864x1152", watermark="on")
    rows = list(Generation.objects.order_by("id"))
    assert len(rows) == 3
    assert len(callbacks) == 3
    assert response.status_code == 302
    assert response["Location"] == f"/generate/{rows[0].batch}/"
    assert len({row.seed for row in rows}) == 3
    assert all(row.seed_was_random and 0 <= row.seed <= 2147483647 for row in rows)
    assert {(r.width, r.height, r.watermark, r.status) for r in rows} == {
        (864, 1152, True, "queued")
    }
    assert all(row.user == alice for row in rows)


@pytest.mark.django_db
def test_given_seed_is_used_and_counted_up_for_variations(alice_client):
    post(alice_client, seed="2147483646", variations="3")
    assert [g.seed for g in Generation.objects.order_by("id")] == [2147483646, 2147483647, 0]
    assert not Generation.objects.filter(seed_was_random=True).exists()


@pytest.mark.django_db
def test_seed_minus_one_means_random(alice_client):
    post(alice_client, seed="-1")
    assert Generation.objects.get().seed_was_random


@pytest.mark.django_db
def test_chinese_prompt_is_accepted(alice_client):
    post(alice_client, prompt="瓷器狐狸，晨雾，柔和光线")
    assert Generation.objects.get().prompt == "瓷器狐狸，晨雾，柔和光线"


@pytest.mark.django_db
def test_over_the_daily_limit_is_refused_not_queued(alice_client, alice, settings):
    settings.GENERATION_DAILY_IMAGE_LIMIT = 2
    post(alice_client, variations="2")
    response = post(alice_client, variations="1")
    assert response.status_code == 400
    assert "have 0 of your 2 daily images left" in response.content.decode()
    assert Generation.objects.count() == 2


@pytest.mark.django_db
def test_staff_set_limit_overrides_the_default(alice_client, alice, settings):
    from gallery.models import MemberQuota

    settings.GENERATION_DAILY_IMAGE_LIMIT = 100
    MemberQuota.objects.create(user=alice, daily_image_limit=1)
    response = alice_client.get("/generate/")
    assert "You can make <strong>1</strong> more image today (of 1)" in response.content.decode()
    assert post(alice_client, variations="2").status_code == 400


@pytest.mark.django_db
def test_form_labels_every_field(alice_client):
    html = alice_client.get("/generate/").content.decode()
    for label in ("Prompt", "Size", "Seed", "Guidance scale", "Watermark", "Variations", "Model"):
        assert f">{label}</label>" in html
    assert ">Generate</button>" in html


def test_generate_page_needs_login(client, db):
    response = client.get("/generate/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
