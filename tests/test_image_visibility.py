"""Who sees an image: chosen on the generate form (or the API's job submit), carried onto the
image by the ingest, changed on the image's page by its author or staff."""

import json

import pytest

from gallery.models import Generation, Image
from gallery.seedream.contract import GenerationParams
from gallery.services import generation as generation_service
from gallery.services import images as image_service
from tests.generations import run_until_settled
from tests.images import make_image

GENERATE = {
    "prompt": "A porcelain fox in morning fog",
    "size": "1024x1024",
    "seed": "",
    "guidance_scale": "2.5",
    "model": "doubao-seedream-3-0-t2i-250415",
    "variations": "2",
}


# --- The generate form and the API -------------------------------------------------------


def test_the_generate_form_offers_visibility_with_the_default_chosen(alice_client, settings):
    settings.GALLERY_DEFAULT_VISIBILITY = "private"
    html = alice_client.get("/generate/").content.decode()
    assert '<label for="id_visibility">Visibility</label>' in html
    assert '<option value="private" selected>Private</option>' in html
    assert '<option value="team">Team</option>' in html
    assert '<option value="public">Public</option>' in html


def test_the_chosen_visibility_goes_onto_every_job_of_the_batch(alice_client, alice):
    response = alice_client.post("/generate/", {**GENERATE, "visibility": "private"})
    assert response.status_code == 302
    assert list(Generation.objects.values_list("visibility", flat=True)) == ["private"] * 2


def test_no_visibility_means_the_gallerys_default(alice_client, alice, settings):
    settings.GALLERY_DEFAULT_VISIBILITY = "public"
    assert alice_client.post("/generate/", GENERATE).status_code == 302
    assert set(Generation.objects.values_list("visibility", flat=True)) == {"public"}


@pytest.mark.parametrize("value", ["secret", "PRIVATE", "private ", "0"])
def test_a_bad_visibility_is_a_field_error_and_queues_nothing(alice_client, alice, value):
    response = alice_client.post("/generate/", {**GENERATE, "visibility": value})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Generation.objects.exists()


def test_the_form_remembers_the_visibility_last_used(alice_client, alice):
    alice_client.post("/generate/", {**GENERATE, "visibility": "private"})
    html = alice_client.get("/generate/").content.decode()
    assert '<option value="private" selected>Private</option>' in html


def test_a_remix_of_ones_own_private_image_stays_private(alice_client, alice, bob):
    mine = make_image(alice, visibility="private")
    html = alice_client.get(f"/generate/?remix={mine.pk}").content.decode()
    assert '<option value="private" selected>Private</option>' in html
    theirs = make_image(bob, visibility="public")
    html = alice_client.get(f"/generate/?remix={theirs.pk}").content.decode()
    assert '<option value="team" selected>Team</option>' in html  # the default, not bob's


def test_a_variation_keeps_ones_own_images_visibility_but_not_a_teammates(alice, bob):
    mine = make_image(alice, visibility="private")
    assert image_service.vary(user=alice, image=mine)[0].visibility == "private"
    theirs = make_image(bob, visibility="public")
    assert image_service.vary(user=alice, image=theirs)[0].visibility == "team"


def test_the_api_takes_a_visibility_for_its_jobs(client, alice_token, alice):
    response = client.post(
        "/api/jobs",
        data=json.dumps({"prompt": "a kite", "visibility": "private"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {alice_token}",
    )
    assert response.status_code == 201
    assert response.json()["jobs"][0]["visibility"] == "private"
    assert Generation.objects.get().visibility == "private"


@pytest.mark.parametrize("value", ["secret", "", 3, True, ["private"]])
def test_the_api_refuses_a_bad_visibility(client, alice_token, alice, value):
    response = client.post(
        "/api/jobs",
        data=json.dumps({"prompt": "a kite", "visibility": value}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {alice_token}",
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_parameter", "visibility")
    assert not Generation.objects.exists()


def test_the_ingest_gives_the_image_its_jobs_visibility(redis_url, s3_server, emulator, alice):
    params = GenerationParams(prompt="a lighthouse at dusk", size="1024x1024", seed=42)
    generation = generation_service.submit(user=alice, params=params, visibility="private")[0]
    assert run_until_settled(generation).status == Generation.Status.SUCCEEDED
    assert Image.objects.get(generation=generation).visibility == "private"


# --- The image's page --------------------------------------------------------------------


def test_the_author_gets_a_visibility_control_a_teammate_only_the_fact(client, alice, bob):
    image = make_image(alice, visibility="public")
    client.force_login(alice)
    html = client.get(f"/images/{image.pk}/").content.decode()
    assert '<label for="id_visibility">Visibility</label>' in html
    assert '<option value="public" selected>Public</option>' in html
    client.force_login(bob)
    html = client.get(f"/images/{image.pk}/").content.decode()
    assert 'id="id_visibility"' not in html
    assert "<dt>Visibility</dt><dd>Public</dd>" in html


def test_changing_visibility_in_place_answers_the_control_again(alice_client, alice):
    image = make_image(alice)
    response = alice_client.post(
        f"/images/{image.pk}/visibility/", {"visibility": "private"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<form class="visibility"') and "Saved." in html
    assert '<option value="private" selected>Private</option>' in html
    assert Image.objects.get(pk=image.pk).visibility == "private"


def test_without_htmx_the_change_returns_to_the_page(alice_client, alice):
    image = make_image(alice)
    response = alice_client.post(f"/images/{image.pk}/visibility/", {"visibility": "public"})
    assert response.status_code == 302 and response["Location"] == f"/images/{image.pk}/"
    assert Image.objects.get(pk=image.pk).visibility == "public"


@pytest.mark.parametrize("data", [{}, {"visibility": ""}, {"visibility": "hidden"}])
def test_a_bad_visibility_changes_nothing(alice_client, alice, data):
    image = make_image(alice)
    response = alice_client.post(f"/images/{image.pk}/visibility/", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "Choose Private, Team or Public." in response.content.decode()
    assert Image.objects.get(pk=image.pk).visibility == "team"


def test_the_visibility_url_takes_only_post(alice_client, alice):
    image = make_image(alice)
    assert alice_client.get(f"/images/{image.pk}/visibility/").status_code == 405


def test_the_service_refuses_a_value_that_is_not_a_visibility(alice):
    with pytest.raises(ValueError):
        image_service.set_visibility(user=alice, images=[make_image(alice)], visibility="x")
