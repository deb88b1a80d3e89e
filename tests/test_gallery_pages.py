"""Gallery and job pages: what members see, what they may touch, and how many queries."""

import pytest

from gallery.models import Generation, Image

pytestmark = pytest.mark.django_db


def make_generation(user, **fields) -> Generation:
    defaults = dict(prompt="a kite", model="doubao-seedream-3-0-t2i-250415", width=1024,
                    height=1024, seed=1, guidance_scale=2.5)  # fmt: skip
    return Generation.objects.create(user=user, **{**defaults, **fields})


def make_image(user, n: int) -> Image:
    generation = make_generation(user, seed=n, status="succeeded")
    return Image.objects.create(
        generation=generation, owner=user, prompt=f"image {n}", model=generation.model, seed=n,
        guidance_scale=2.5, width=1024, height=1024, original_key=f"originals/{n}.jpg",
        content_type="image/jpeg", byte_size=1, sha256=f"{n:064d}", provider_sha256="0" * 64,
        thumbnail_key=f"thumbnails/{n}.webp", thumb_width=384, thumb_height=384,
    )  # fmt: skip


def test_gallery_lists_images_in_a_constant_number_of_queries(
    alice_client, alice, bob, django_assert_num_queries
):
    for n in range(3):
        make_image(alice if n % 2 else bob, n)
    # session, user, images with owners, stack sizes, the selection bar's collections, the
    # navigation's running-jobs count and saved searches
    with django_assert_num_queries(7):
        small = alice_client.get("/")
    for n in range(3, 30):
        make_image(bob, n)
    with django_assert_num_queries(7):
        large = alice_client.get("/")
    assert small.status_code == large.status_code == 200
    assert large.content.decode().count('class="tile-link"') == 30


def test_hidden_images_are_not_listed_or_shown(alice_client, bob):
    image = make_image(bob, 1)
    image.is_hidden = True
    image.save()
    assert "image 1" not in alice_client.get("/").content.decode()
    assert alice_client.get(f"/images/{image.pk}/").status_code == 404


def test_image_page_shows_how_to_make_it_again(alice_client, bob):
    image = make_image(bob, 77)
    html = alice_client.get(f"/images/{image.pk}/").content.decode()
    assert "image 77" in html
    assert "<dt>Seed</dt><dd>77 <span" in html
    assert "X-Amz-Signature=" in html  # a presigned link: the bucket is private


def test_batch_page_polls_only_while_jobs_are_active(
    alice_client, alice, django_assert_num_queries
):
    running = make_generation(alice)
    make_generation(alice, batch=running.batch, status="failed", error_message="Refused.")
    with django_assert_num_queries(5):  # session, user, the batch, the navigation's two
        html = alice_client.get(f"/generate/{running.batch}/").content.decode()
    assert html.count('hx-trigger="every 1s"') == 1
    assert "Refused." in html
    assert ">Retry</button>" in html and ">Cancel</button>" in html


def test_members_cannot_see_or_touch_each_others_jobs(client, alice, bob):
    job = make_generation(alice)
    client.force_login(bob)
    assert client.get(f"/generate/{job.batch}/").status_code == 404
    assert client.get(f"/generations/{job.pk}/card/").status_code == 404
    assert client.post(f"/generations/{job.pk}/cancel/").status_code == 404
    job.refresh_from_db()
    assert job.status == "queued"


def test_cancel_and_retry_only_by_post(alice_client, alice):
    job = make_generation(alice)
    assert alice_client.get(f"/generations/{job.pk}/cancel/").status_code == 405
    response = alice_client.post(f"/generations/{job.pk}/cancel/", HTTP_HX_REQUEST="true")
    assert 'data-status="canceled"' in response.content.decode()


def test_retrying_a_job_that_has_not_failed_says_so(alice_client, alice):
    job = make_generation(alice, status="succeeded")
    response = alice_client.post(f"/generations/{job.pk}/retry/", follow=True)
    assert "Only a failed job can be retried." in response.content.decode()


def test_unknown_batch_is_404(alice_client):
    assert alice_client.get("/generate/7d1f7c55-0000-4000-8000-000000000000/").status_code == 404
