"""Bad input at the gateway: every refusal in the provider's error shape, naming what is
wrong, and nothing generated. The view is async, so its database work runs on other
threads: these tests commit (transactional_db)."""

import json

import pytest

from gallery.models import Generation
from gallery.services import api_tokens

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/v1/images/generations"
VALID = {"model": "doubao-seedream-3-0-t2i-250415", "prompt": "a lighthouse at dusk"}


@pytest.fixture
def client(async_view_client):
    """The gateway's views are async: send from a thread without an event loop."""
    return async_view_client


@pytest.fixture(autouse=True)
def _services(redis_url, settings):
    settings.GATEWAY_WAIT_TIMEOUT = 0.2  # no worker here: the answer is the wait's timeout


def post(client, token, body=None, *, raw=None, content_type="application/json", **headers):
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else json.dumps(VALID if body is None else body)
    return client.post(URL, data=data, content_type=content_type, headers=headers)


def assert_provider_error(response, status: int, code: str, param: str = "") -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "param", "type"}
    assert (error["code"], error["param"]) == (code, param)
    assert error["message"]
    assert response["X-Request-Id"]
    return error


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic YWxpY2U6cHc=", "Bearer nope", "Bearer sg_unknown"],
)
def test_missing_or_malformed_or_unknown_token_is_401(client, alice, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.post(URL, data=json.dumps(VALID), content_type="application/json",
                           headers=headers)  # fmt: skip
    error = assert_provider_error(response, 401, "AuthenticationError")
    assert error["type"] == "Unauthorized"
    assert not Generation.objects.exists()


def test_a_revoked_token_is_401(client, alice, alice_token):
    api_tokens.revoke(user=alice, token_id=alice.api_tokens.get().pk)
    assert_provider_error(post(client, alice_token), 401, "AuthenticationError")


def test_a_token_of_an_inactive_member_is_401(client, alice, alice_token):
    alice.is_active = False
    alice.save()
    assert_provider_error(post(client, alice_token), 401, "AuthenticationError")


@pytest.mark.parametrize(
    ("change", "code", "param"),
    [
        ({"prompt": None}, "MissingParameter", "prompt"),
        ({"prompt": "   "}, "MissingParameter", "prompt"),
        ({"prompt": 42}, "InvalidParameter", "prompt"),
        ({"prompt": "x" * 2001}, "InvalidParameter", "prompt"),
        ({"model": None}, "MissingParameter", "model"),
        ({"model": ""}, "InvalidParameter", "model"),
        ({"size": "1024"}, "InvalidParameter", "size"),
        ({"size": "256x256"}, "InvalidParameter", "size"),
        ({"size": "2048x600"}, "InvalidParameter", "size"),
        ({"size": 1024}, "InvalidParameter", "size"),
        ({"seed": "x"}, "InvalidParameter", "seed"),
        ({"seed": 1.5}, "InvalidParameter", "seed"),
        ({"seed": True}, "InvalidParameter", "seed"),
        ({"seed": -2}, "InvalidParameter", "seed"),
        ({"seed": 2147483648}, "InvalidParameter", "seed"),
        ({"guidance_scale": 0.5}, "InvalidParameter", "guidance_scale"),
        ({"guidance_scale": "3"}, "InvalidParameter", "guidance_scale"),
        ({"watermark": "yes"}, "InvalidParameter", "watermark"),
        ({"response_format": "png"}, "InvalidParameter", "response_format"),
        ({"stream": True}, "InvalidParameter", "stream"),
        ({"image": "https://example.test/a.png"}, "InvalidParameter", "image"),
    ],
)
def test_each_invalid_parameter_is_400_naming_it(client, alice_token, change, code, param):
    body = {key: value for key, value in {**VALID, **change}.items()}
    error = assert_provider_error(post(client, alice_token, body), 400, code, param)
    assert error["type"] == "BadRequest"
    assert not Generation.objects.exists()


def test_an_unknown_model_is_404_as_the_provider_answers(client, alice_token):
    response = post(client, alice_token, {**VALID, "model": "dall-e-3"})
    assert_provider_error(response, 404, "InvalidEndpointOrModel", "model")


@pytest.mark.parametrize("raw", ["{", "[1, 2]", '"prompt"', "\xff"])
def test_a_body_that_is_not_a_json_object_is_400(client, alice_token, raw):
    assert_provider_error(post(client, alice_token, raw=raw), 400, "InvalidParameter", "body")


@pytest.mark.parametrize("padding", [65536, 3 * 1024 * 1024])  # the second past Django's cap
def test_a_body_over_64_kb_is_413(client, alice_token, padding):
    response = post(client, alice_token, {**VALID, "padding": "x" * padding})
    assert_provider_error(response, 413, "RequestEntityTooLarge", "body")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_content_type_other_than_json_is_415(client, alice_token, content_type):
    response = post(client, alice_token, raw=json.dumps(VALID), content_type=content_type)
    assert_provider_error(response, 415, "UnsupportedMediaType", "Content-Type")


def test_get_is_405(client, alice_token):
    response = client.get(URL, headers={"Authorization": f"Bearer {alice_token}"})
    assert_provider_error(response, 405, "MethodNotAllowed")


def test_unknown_fields_are_ignored_and_nulls_read_as_absent(client, alice, alice_token):
    body = {**VALID, "n": 1, "user": "notebook-7", "quality": "hd", "size": None, "seed": None,
            "guidance_scale": None, "watermark": None, "stream": None, "image": None}  # fmt: skip
    post(client, alice_token, body)
    generation = Generation.objects.get()
    assert (generation.user, generation.size, generation.guidance_scale) == (
        alice,
        "1024x1024",
        2.5,
    )
    assert generation.seed_was_random


def test_a_wait_past_the_timeout_names_the_generation_and_its_gallery_url(client, alice_token):
    response = post(client, alice_token)
    generation = Generation.objects.get()
    error = assert_provider_error(response, 504, "GatewayTimeout")
    assert error["generation_id"] == generation.pk
    assert error["gallery_url"] == f"http://testserver/generate/{generation.batch}/"
    assert f"Generation {generation.pk}" in error["message"]
    assert error["gallery_url"] in error["message"]
    assert response["x-should-retry"] == "false"  # a retry would generate again
    assert generation.status == Generation.Status.QUEUED  # it goes on into the gallery


def test_over_the_token_rate_limit_is_429_with_retry_after(
    client, alice_token, settings, frozen_minute
):
    settings.API_TOKEN_RATE_LIMIT = 2
    headers = {"Authorization": f"Bearer {alice_token}"}
    for _ in range(2):
        assert client.get("/v1/models", headers=headers).status_code == 200
    response = client.get("/v1/models", headers=headers)
    assert_provider_error(response, 429, "RateLimitExceeded")
    assert 1 <= int(response["Retry-After"]) <= 60


def test_the_rate_limit_is_per_token(client, alice, alice_token, settings):
    settings.API_TOKEN_RATE_LIMIT = 1
    other = api_tokens.create(user=alice, name="second")[1]
    for token in (alice_token, other):
        response = client.get("/v1/models", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200


def test_models_needs_a_token(client, db):
    assert_provider_error(client.get("/v1/models"), 401, "AuthenticationError")


def test_no_answer_carries_the_provider_key(client, alice_token, settings):
    answers = [
        post(client, alice_token),
        post(client, alice_token, {**VALID, "size": "1x1"}),
        post(client, "nope"),
        client.get("/v1/models", headers={"Authorization": f"Bearer {alice_token}"}),
    ]
    for response in answers:
        assert settings.SEEDREAM_API_KEY.encode() not in response.content
        assert all(settings.SEEDREAM_API_KEY not in value for value in response.headers.values())
