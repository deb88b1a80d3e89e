"""The JSON API under /api/: token and session auth, images with cursor pagination, jobs
submit/list/cancel/retry, and every bad input answered in the API's error shape."""

import json

import pytest
from django.test import Client

from gallery.models import Generation, Image, MemberQuota
from gallery.services import api_tokens

pytestmark = pytest.mark.django_db

MODEL = "doubao-seedream-3-0-t2i-250415"


@pytest.fixture(autouse=True)
def _redis(redis_url):
    """The per-token rate limit counts in Redis."""


def make_generation(user, **fields) -> Generation:
    defaults = dict(prompt="a kite", model=MODEL, width=1024, height=1024, seed=1,
                    guidance_scale=2.5)  # fmt: skip
    return Generation.objects.create(user=user, **{**defaults, **fields})


def make_image(user, n: int, **fields) -> Image:
    generation = make_generation(user, seed=n, status="succeeded")
    return Image.objects.create(
        generation=generation, owner=user, prompt=f"image {n}", model=MODEL, seed=n,
        guidance_scale=2.5, width=864, height=1152, original_key=f"originals/{n}.jpg",
        content_type="image/jpeg", byte_size=1, sha256=f"{n:064d}", provider_sha256="0" * 64,
        thumbnail_key=f"thumbnails/{n}.webp", thumb_width=288, thumb_height=384, **fields,
    )  # fmt: skip


def post_json(client, path, body, **kwargs):
    return client.post(path, data=json.dumps(body), content_type="application/json", **kwargs)


def assert_api_error(response, status: int, code: str, field=None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "field"}
    assert (error["code"], error["field"]) == (code, field)
    assert error["message"]
    return error


# --- Authentication -------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Basic YWxpY2U6cHc=", "Bearer nope", "Bearer sg_unknown"]
)
def test_without_a_valid_token_or_session_it_is_401(client, alice, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    assert_api_error(client.get("/api/images", headers=headers), 401, "not_authenticated")


def test_a_revoked_token_is_401(api, alice):
    assert api.get("/api/images").status_code == 200
    api_tokens.revoke(user=alice, token_id=alice.api_tokens.get().pk)
    assert_api_error(api.get("/api/images"), 401, "not_authenticated")


def test_a_token_of_an_inactive_member_is_401(api, alice):
    alice.is_active = False
    alice.save()
    assert_api_error(api.get("/api/jobs"), 401, "not_authenticated")


def test_the_token_rate_limit_is_429(api, settings, frozen_minute):
    settings.API_TOKEN_RATE_LIMIT = 1
    assert api.get("/api/jobs").status_code == 200
    assert_api_error(api.get("/api/jobs"), 429, "rate_limited")


def test_a_browser_session_works_with_its_csrf_token(alice):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.get("/api/jobs").status_code == 200
    body = {"prompt": "a kite"}
    assert_api_error(post_json(browser, "/api/jobs", body), 403, "csrf_failed")
    browser.get("/settings/tokens/")  # sets the CSRF cookie, as any page does
    token = browser.cookies["csrftoken"].value
    response = post_json(browser, "/api/jobs", body, headers={"X-CSRFToken": token})
    assert response.status_code == 201


# --- Images ---------------------------------------------------------------------


def test_images_are_paged_newest_first_by_cursor(api, alice, bob, django_assert_num_queries):
    made = [make_image(alice if n % 2 else bob, n) for n in range(5)]
    api.get("/api/images")  # the token's last-used time is written once a minute, here
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        with django_assert_num_queries(3):  # the token, the page with its owners, their tags
            page = api.get("/api/images", query).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [image.pk for image in reversed(made)]
    assert pages == 3


def test_images_list_leaves_out_hidden_images(api, bob):
    make_image(bob, 1, is_hidden=True)
    shown = make_image(bob, 2)
    assert [item["id"] for item in api.get("/api/images").json()["items"]] == [shown.pk]


def test_image_detail_has_every_parameter(api, bob):
    image = make_image(bob, 9)
    detail = api.get(f"/api/images/{image.pk}").json()
    assert {key: detail[key] for key in ("prompt", "model", "seed", "guidance_scale",
            "watermark", "size", "width", "height", "owner", "generation_id")} == {
        "prompt": "image 9", "model": MODEL, "seed": 9, "guidance_scale": 2.5,
        "watermark": False, "size": "864x1152", "width": 864, "height": 1152, "owner": "bob",
        "generation_id": image.generation_id,
    }  # fmt: skip
    assert "X-Amz-Signature=" in detail["url"] and "X-Amz-Signature=" in detail["thumbnail_url"]


@pytest.mark.parametrize("hidden", [True, False])
def test_a_hidden_or_missing_image_is_404(api, bob, hidden):
    image = make_image(bob, 1, is_hidden=hidden)
    image_id = image.pk if hidden else image.pk + 1000
    assert_api_error(api.get(f"/api/images/{image_id}"), 404, "not_found")


@pytest.mark.parametrize(
    ("query", "field"),
    [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "many"}, "limit"),
     ({"cursor": "not-a-cursor"}, "cursor"), ({"cursor": "x" * 201}, "cursor")],
)  # fmt: skip
def test_a_bad_page_parameter_is_400_naming_it(api, query, field):
    assert_api_error(api.get("/api/images", query), 400, "invalid_parameter", field)


# --- Jobs -----------------------------------------------------------------------


def test_submitting_jobs_queues_one_per_variation(api, alice, django_capture_on_commit_callbacks):
    body = {"prompt": "a red kite", "size": "864x1152", "seed": 10, "variations": 2,
            "watermark": True, "guidance_scale": 4}  # fmt: skip
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_json(api, "/api/jobs", body)
    assert response.status_code == 201
    jobs = response.json()["jobs"]
    assert [(job["seed"], job["size"], job["status"]) for job in jobs] == [
        (10, "864x1152", "queued"),
        (11, "864x1152", "queued"),
    ]
    assert len(callbacks) == 2
    assert Generation.objects.filter(user=alice, watermark=True, guidance_scale=4).count() == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 2001}, "prompt"),
        ({"prompt": None}, "prompt"),
        ({"size": "256x256"}, "size"),
        ({"size": "big"}, "size"),
        ({"seed": 2147483648}, "seed"),
        ({"seed": "abc"}, "seed"),
        ({"guidance_scale": 11}, "guidance_scale"),
        ({"guidance_scale": "lots"}, "guidance_scale"),
        ({"watermark": "maybe"}, "watermark"),
        ({"model": "dall-e-3"}, "model"),
        ({"variations": 0}, "variations"),
        ({"variations": 5}, "variations"),
    ],
)
def test_each_invalid_job_parameter_is_400_naming_it(api, change, field):
    response = post_json(api, "/api/jobs", {"prompt": "a kite", **change})
    assert_api_error(response, 400, "invalid_parameter", field)
    assert not Generation.objects.exists()


@pytest.mark.parametrize("padding", [65536, 3 * 1024 * 1024])  # the second past Django's cap
def test_a_body_over_64_kb_is_413(api, padding):
    response = post_json(api, "/api/jobs", {"prompt": "a kite", "padding": "x" * padding})
    assert_api_error(response, 413, "body_too_large", "body")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_is_415(api, content_type):
    response = api.post("/api/jobs", data='{"prompt": "a kite"}', content_type=content_type)
    assert_api_error(response, 415, "unsupported_media_type", "Content-Type")


def test_a_body_that_does_not_parse_is_400(api):
    response = api.post("/api/jobs", data="{", content_type="application/json")
    assert_api_error(response, 400, "invalid_json", "body")


def test_over_the_daily_quota_is_429(api, alice):
    MemberQuota.objects.create(user=alice, daily_image_limit=1)
    response = post_json(api, "/api/jobs", {"prompt": "a kite", "variations": 2})
    error = assert_api_error(response, 429, "quota_exceeded")
    assert "1 of your 1 daily images left" in error["message"]


def test_jobs_list_shows_only_your_own(api, alice, bob):
    mine = make_generation(alice)
    make_generation(bob)
    assert [job["id"] for job in api.get("/api/jobs").json()["items"]] == [mine.pk]


def test_jobs_are_paged_by_a_signed_cursor(api, alice):
    jobs = [make_generation(alice) for _ in range(3)]
    first = api.get("/api/jobs", {"limit": 2}).json()
    second = api.get("/api/jobs", {"limit": 2, "cursor": first["next_cursor"]}).json()
    seen = [job["id"] for job in first["items"] + second["items"]]
    assert seen == [job.pk for job in reversed(jobs)]
    assert second["next_cursor"] is None
    # A cursor edited to point elsewhere (here: one made without the site's key) is refused.
    forged = first["next_cursor"].replace(first["next_cursor"][-3:], "AAA")
    assert_api_error(api.get("/api/jobs", {"cursor": forged}), 400, "invalid_parameter", "cursor")
    assert_api_error(
        api.get("/api/jobs", {"cursor": "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHwx"}),
        400,
        "invalid_parameter",
        "cursor",
    )


def test_cancel_a_queued_job_then_not_again(api, alice):
    job = make_generation(alice)
    response = api.post(f"/api/jobs/{job.pk}/cancel")
    assert response.json()["status"] == "canceled"
    assert_api_error(api.post(f"/api/jobs/{job.pk}/cancel"), 409, "not_cancelable")


def test_retry_a_failed_job_but_not_a_queued_one(api, alice):
    failed = make_generation(alice, status="failed", error_code="timeout")
    assert api.post(f"/api/jobs/{failed.pk}/retry").json()["status"] == "queued"
    assert_api_error(api.post(f"/api/jobs/{failed.pk}/retry"), 409, "not_retryable")


@pytest.mark.parametrize("action", ["", "/cancel", "/retry"])
def test_another_members_job_is_404(api, bob, action):
    job = make_generation(bob, status="failed")
    method = api.post if action else api.get
    assert_api_error(method(f"/api/jobs/{job.pk}{action}"), 404, "not_found")
    assert Generation.objects.get(pk=job.pk).status == "failed"


# --- Schema and docs --------------------------------------------------------------


def test_schema_is_openapi_3_and_lists_every_endpoint(client, db):
    schema = client.get("/api/schema").json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/images", "/api/images/{image_id}", "/api/images/{image_id}/favourite", "/api/jobs", "/api/jobs/{job_id}",
        "/api/jobs/{job_id}/cancel", "/api/jobs/{job_id}/retry", "/api/images/{image_id}/tags",
        "/api/images/{image_id}/tags/{name}", "/api/tags", "/api/collections",
        "/api/collections/{collection_id}", "/api/collections/{collection_id}/images",
        "/api/collections/{collection_id}/images/{image_id}", "/api/links", "/api/links/{link_id}",
        "/api/links/{link_id}/restore",
    }  # fmt: skip


def test_docs_load_their_assets_from_this_site(client, db):
    html = client.get("/api/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "//cdn" not in html and "https://" not in html


def test_retry_past_todays_quota_is_429_and_leaves_the_job_failed(api, alice, settings):
    settings.GENERATION_DAILY_IMAGE_LIMIT = 1
    make_generation(alice, status="succeeded")
    failed = make_generation(alice, status="failed", error_code="timeout")
    assert_api_error(api.post(f"/api/jobs/{failed.pk}/retry"), 429, "quota_exceeded")
    assert Generation.objects.get(pk=failed.pk).status == "failed"


@pytest.mark.parametrize(
    "path",
    [
        "/api/no-such-endpoint",
        "/api/images/1/tags/two%0Alines",  # no route's pattern takes a line break
    ],
)
def test_a_path_no_route_takes_is_the_apis_json_404(api, path):
    answer = api.delete(path)
    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["error"]["code"] == "not_found"
