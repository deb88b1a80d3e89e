"""An image's page: how it was made, who sees what, and its actions."""

import re
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from gallery.models import Favourite, Generation, Image
from tests.images import bulk_images, make_image

pytestmark = pytest.mark.django_db


def test_the_page_is_titled_by_the_prompt_and_shows_every_parameter(alice_client, bob):
    image = make_image(bob, prompt="A porcelain fox in morning fog", width=1152, height=864)
    html = alice_client.get(f"/images/{image.pk}/").content.decode()
    assert "<title>A porcelain fox in morning fog · Seedgallery</title>" in html
    assert '<h1 class="prompt-title">A porcelain fox in morning fog</h1>' in html
    assert f'<dd>{image.seed} <span class="muted">(random)</span></dd>' in html
    for fact in [
        "<dd>1152×864</dd>",
        "<dd>2.5</dd>",
        "<dd>no</dd>",
        "<dd>Seedream 3.0</dd>",
        "<dd>bob</dd>",
    ]:
        assert fact in html
    assert "Image " + str(image.pk) not in html


def test_hashes_and_provider_request_id_are_for_staff_only(client, alice, sam):
    image = make_image(alice)
    client.force_login(alice)
    member_view = client.get(f"/images/{image.pk}/").content.decode()
    # (the content-addressed S3 key in the image's URL holds the hash; the page shows none)
    assert "SHA-256" not in member_view and "req-" not in member_view
    assert "doubao-seedream-3-0-t2i-250415" not in member_view  # the friendly name only
    client.force_login(sam)
    staff_view = client.get(f"/images/{image.pk}/").content.decode()
    assert f'<dd class="mono wrap">{image.sha256}</dd>' in staff_view
    assert image.generation.provider_request_id in staff_view


def test_the_page_links_to_its_batch_for_its_owner_and_back_to_the_gallery(client, alice, bob):
    image = make_image(alice)
    client.force_login(alice)
    html = client.get(f"/images/{image.pk}/?q=kite").content.decode()
    assert f'href="/generate/{image.generation.batch}/"' in html
    assert 'href="/?q=kite"' in html
    client.force_login(bob)
    assert (
        "/generate/" + str(image.generation.batch)
        not in client.get(f"/images/{image.pk}/").content.decode()
    )


def test_previous_and_next_follow_the_list_the_member_came_from(alice_client, alice, bob):
    images = bulk_images([alice, bob], 9)  # prompts repeat in threes
    middle = images[4]
    html = alice_client.get(f"/images/{middle.pk}/?view=flat").content.decode()
    assert f'rel="prev" href="/images/{images[3].pk}/?view=flat"' in html
    assert f'rel="next" href="/images/{images[5].pk}/?view=flat"' in html
    # alice owns images 0-2 and 6-8: within "mine", the one after image 2 is image 6
    html = alice_client.get(f"/images/{images[2].pk}/?view=flat&who=mine").content.decode()
    assert f'rel="next" href="/images/{images[6].pk}/?who=mine&amp;view=flat"' in html


def test_a_batch_page_shows_its_siblings_with_their_seeds(alice_client, alice):
    first = make_image(alice, seed=10)
    make_image(alice, seed=11, batch=first.generation.batch)
    html = alice_client.get(f"/images/{first.pk}/").content.decode()
    assert "This batch: 2 images" in html and "seed 10" in html and "seed 11" in html


def test_a_damaged_list_link_still_shows_the_image(alice_client, alice):
    image = make_image(alice)
    assert alice_client.get(f"/images/{image.pk}/?sort=bogus&date_from=x").status_code == 200


def test_unknown_or_hidden_images_are_404(alice_client, bob):
    hidden = make_image(bob, is_hidden=True)
    assert alice_client.get(f"/images/{hidden.pk}/").status_code == 404
    assert alice_client.get("/images/999999/").status_code == 404
    assert alice_client.get("/images/999999/download/").status_code == 404


def test_download_redirects_to_a_presigned_url_naming_the_file_by_prompt_and_seed(
    alice_client, bob
):
    image = make_image(bob, prompt="A porcelain fox, in fog!", seed=42)
    response = alice_client.get(f"/images/{image.pk}/download/")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert "X-Amz-Signature" in query
    disposition = unquote(query["response-content-disposition"][0])
    assert disposition == (
        'attachment; filename="a-porcelain-fox-in-fog-seed42.jpg"; '
        "filename*=UTF-8''a-porcelain-fox-in-fog-seed42.jpg"
    )


def test_favourite_toggles_in_place_with_htmx(alice_client, alice, bob):
    image = make_image(bob)
    on = alice_client.post(f"/images/{image.pk}/favourite/", HTTP_HX_REQUEST="true")
    assert 'aria-pressed="true"' in on.content.decode() and "<html" not in on.content.decode()
    assert Favourite.objects.filter(user=alice, image=image).exists()
    off = alice_client.post(f"/images/{image.pk}/favourite/", HTTP_HX_REQUEST="true")
    assert 'aria-pressed="false"' in off.content.decode()
    assert not Favourite.objects.exists()
    assert alice_client.get(f"/images/{image.pk}/favourite/").status_code == 405


def test_favourite_without_javascript_returns_to_the_page(alice_client, bob):
    image = make_image(bob)
    response = alice_client.post(f"/images/{image.pk}/favourite/")
    assert response.status_code == 302 and response["Location"] == f"/images/{image.pk}/"
    assert 'aria-pressed="true"' in alice_client.get(f"/images/{image.pk}/").content.decode()


def test_remix_prefills_the_generate_form_with_every_parameter(alice_client, bob):
    image = make_image(
        bob, prompt="a kite & a <b>", width=1512, height=648, seed=777, watermark=True
    )
    html = alice_client.get(f"/generate/?remix={image.pk}").content.decode()
    assert "a kite &amp; a &lt;b&gt;</textarea>" in html
    assert 'value="1512x648"' in html and 'value="777"' in html
    assert re.search(r'name="watermark"[^>]*checked', html)


@pytest.mark.parametrize("remix", ["abc", "99999", "-1"])
def test_remix_of_a_missing_image_is_404(alice_client, remix):
    assert alice_client.get(f"/generate/?remix={remix}").status_code == 404


def test_vary_queues_a_new_job_with_the_same_parameters_and_a_new_seed(
    alice_client, alice, bob, django_capture_on_commit_callbacks
):
    image = make_image(bob, prompt="a red kite", width=720, height=1280, seed=5, watermark=True)
    with django_capture_on_commit_callbacks(execute=False):
        response = alice_client.post(f"/images/{image.pk}/vary/")
    job = Generation.objects.filter(user=alice).get()
    assert response["Location"] == f"/generate/{job.batch}/"
    assert (job.prompt, job.width, job.height, job.watermark) == ("a red kite", 720, 1280, True)
    assert job.seed_was_random and job.status == "queued"
    assert alice_client.get(f"/images/{image.pk}/vary/").status_code == 405


def test_vary_over_the_daily_quota_says_so_and_makes_nothing(alice_client, alice, bob, settings):
    settings.GENERATION_DAILY_IMAGE_LIMIT = 0
    image = make_image(bob)
    response = alice_client.post(f"/images/{image.pk}/vary/", follow=True)
    assert "daily images left" in response.content.decode()
    assert not Generation.objects.filter(user=alice).exists()


def test_members_cannot_delete_each_others_images(alice_client, bob):
    image = make_image(bob)
    assert alice_client.get(f"/images/{image.pk}/delete/").status_code == 403
    assert alice_client.post(f"/images/{image.pk}/delete/").status_code == 403
    assert Image.objects.filter(pk=image.pk).exists()
    assert "Delete</a>" not in alice_client.get(f"/images/{image.pk}/").content.decode()


def test_delete_asks_first_then_removes_the_row(
    alice_client, alice, django_capture_on_commit_callbacks
):
    image = make_image(alice)
    assert "cannot be undone" in alice_client.get(f"/images/{image.pk}/delete/").content.decode()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = alice_client.post(f"/images/{image.pk}/delete/")
    assert response.status_code == 302 and not Image.objects.filter(pk=image.pk).exists()
    assert len(callbacks) == 1  # the S3 objects go only after the commit


def test_staff_may_delete_any_image(client, sam, alice, django_capture_on_commit_callbacks):
    image = make_image(alice)
    client.force_login(sam)
    with django_capture_on_commit_callbacks(execute=False):
        client.post(f"/images/{image.pk}/delete/")
    assert not Image.objects.filter(pk=image.pk).exists()


def test_lightbox_of_a_stack_shows_its_batch_with_seeds(alice_client, alice):
    first = make_image(alice, seed=31)
    make_image(alice, seed=32, batch=first.generation.batch)
    html = alice_client.get(f"/images/{first.pk}/lightbox/").content.decode()
    assert html.count("<li>") == 2 and "seed 31" in html and "seed 32" in html


def test_lightbox_fragment_shows_the_image_large(alice_client, bob):
    image = make_image(bob, prompt="a <b>bold</b> kite")
    html = alice_client.get(f"/images/{image.pk}/lightbox/").content.decode()
    assert "<html" not in html and "X-Amz-Signature" in html
    assert "a &lt;b&gt;bold&lt;/b&gt; kite" in html


def test_the_image_page_takes_a_constant_number_of_queries(
    alice_client, alice, bob, django_assert_num_queries
):
    images = bulk_images([alice, bob], 30)
    # session, user, image, previous, next, batch siblings, its tags, the collections it may
    # go in, the navigation's running-jobs count and saved searches
    with django_assert_num_queries(10):
        alice_client.get(f"/images/{images[10].pk}/")
    with django_assert_num_queries(10):
        alice_client.get(f"/images/{images[20].pk}/?q=lighthouse&view=flat&fav=1")
