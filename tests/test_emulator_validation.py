"""The emulator checks requests as the provider does: key, content type, JSON, model, then
each field, each refusal a provider-shaped error naming the parameter."""

import time

import pytest
import requests

from gallery.seedream import contract
from tests.fixtures.emulator import generation_body as body
from tests.fixtures.emulator import post_generation as post

MODEL = contract.DEFAULT_MODEL


def assert_error(response: requests.Response, status: int, code: str, param: str | None = None):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "param", "type"}
    assert error["code"] == code
    assert error["type"] == contract.PROVIDER_ERROR_TYPES[status]
    assert error["message"].endswith(f"Request id: {response.headers['X-Request-Id']}")
    if param is not None:
        assert error["param"] == param


def test_success_has_exactly_the_contract_shape(emulator):
    response = post(emulator, body(size="864x1152", seed=7, guidance_scale=3, watermark=False))
    assert response.status_code == 200, response.text
    payload = response.json()
    assert set(payload) == {"model", "created", "data", "usage"}
    assert payload["model"] == MODEL
    assert isinstance(payload["created"], int) and abs(payload["created"] - time.time()) < 60
    assert payload["usage"] == {"generated_images": 1}
    assert len(payload["data"]) == 1 and set(payload["data"][0]) == {"url"}


def test_the_provider_own_path_answers_too(emulator):
    response = post(emulator, body(), path="/api/v3/images/generations")
    assert response.status_code == 200
    assert set(response.json()["data"][0]) == {"url"}


def test_every_answer_carries_its_own_request_id(emulator):
    ok, refused = post(emulator, body()), post(emulator, body(), key="wrong")
    stats = requests.get(f"{emulator.url}/_emulator/stats", timeout=5)
    image = requests.get(ok.json()["data"][0]["url"], timeout=10)
    ids = [r.headers["X-Request-Id"] for r in (ok, refused, stats, image)]
    assert all(len(request_id) >= 20 for request_id in ids)
    assert len(set(ids)) == 4


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": ""},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dGVzdDp0ZXN0"},
        {"Authorization": "Token test-provider-key"},
        {"Authorization": "Bearertest-provider-key"},
    ],
    ids=["missing", "wrong", "bearer-without-key", "basic", "other-scheme", "no-space"],
)
def test_a_missing_wrong_or_malformed_key_is_401(emulator, headers):
    assert_error(post(emulator, body(), headers=headers), 401, "AuthenticationError")


def test_no_authorization_header_at_all_is_401(emulator):
    response = requests.post(f"{emulator.base_url}/images/generations", json=body(), timeout=10)
    assert_error(response, 401, "AuthenticationError")


@pytest.mark.parametrize(
    ("fields", "code", "param"),
    [
        ({"prompt": None}, "MissingParameter", "prompt"),
        ({"prompt": ""}, "MissingParameter", "prompt"),
        ({"prompt": "   "}, "MissingParameter", "prompt"),
        ({"prompt": 42}, "InvalidParameter", "prompt"),
        ({"prompt": "x" * (contract.PROMPT_MAX_CHARS + 1)}, "InvalidParameter", "prompt"),
        ({"size": "big"}, "InvalidParameter", "size"),
        ({"size": "1024"}, "InvalidParameter", "size"),
        ({"size": "1024x"}, "InvalidParameter", "size"),
        ({"size": 1024}, "InvalidParameter", "size"),
        ({"size": "100x100"}, "InvalidParameter", "size"),
        ({"size": "511x511"}, "InvalidParameter", "size"),
        ({"size": "2049x2049"}, "InvalidParameter", "size"),
        ({"size": "4096x4096"}, "InvalidParameter", "size"),
        ({"size": "63x8192"}, "InvalidParameter", "size"),
        ({"seed": "12"}, "InvalidParameter", "seed"),
        ({"seed": 1.5}, "InvalidParameter", "seed"),
        ({"seed": True}, "InvalidParameter", "seed"),
        ({"seed": -2}, "InvalidParameter", "seed"),
        ({"seed": contract.SEED_MAX + 1}, "InvalidParameter", "seed"),
        ({"guidance_scale": 0.99}, "InvalidParameter", "guidance_scale"),
        ({"guidance_scale": 10.5}, "InvalidParameter", "guidance_scale"),
        ({"guidance_scale": "2"}, "InvalidParameter", "guidance_scale"),
        ({"guidance_scale": True}, "InvalidParameter", "guidance_scale"),
        ({"watermark": "yes"}, "InvalidParameter", "watermark"),
        ({"watermark": 1}, "InvalidParameter", "watermark"),
        ({"response_format": "png"}, "InvalidParameter", "response_format"),
        ({"response_format": 1}, "InvalidParameter", "response_format"),
        ({"model": None}, "MissingParameter", "model"),
        ({"model": 42}, "InvalidParameter", "model"),
    ],
)
def test_each_invalid_field_is_a_400_naming_it(emulator, fields, code, param):
    assert_error(post(emulator, body(**fields)), 400, code, param)


def test_a_missing_prompt_is_a_missing_parameter(emulator):
    assert_error(post(emulator, {"model": MODEL}), 400, "MissingParameter", "prompt")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("image", "https://example.com/a.png"),
        ("stream", True),
        ("optimize_prompt", True),
        ("sequential_image_generation", "auto"),
        ("sequential_image_generation_options", {"max_images": 2}),
        ("output_format", "png"),
    ],
)
def test_a_field_this_model_lacks_is_a_400_when_not_null(emulator, name, value):
    assert_error(post(emulator, body(**{name: value})), 400, "InvalidParameter", name)


def test_nulls_read_as_absent_as_the_official_sdk_sends_them(emulator):
    nulls = dict.fromkeys(
        ("size", "seed", "guidance_scale", "watermark", "response_format", "image", "stream",
         "optimize_prompt", "sequential_image_generation", "output_format"),
    )  # fmt: skip
    response = post(emulator, body(**nulls))
    assert response.status_code == 200, response.text
    assert set(response.json()["data"][0]) == {"url"}  # the default format


def test_the_provider_looser_size_rule_applies(emulator):
    # 6:1 is beyond the product's own forms, within the provider's pixel budget.
    assert post(emulator, body(size="1536x256")).status_code == 200


def test_an_unknown_model_is_404(emulator):
    response = post(emulator, body(model="doubao-seedream-9-0"))
    assert_error(response, 404, "InvalidEndpointOrModel")


@pytest.mark.parametrize("raw", [b"{not json", b"", b'{"model": "x",}', b"\xff\xfe\x00"], ids=repr)
def test_a_body_that_is_not_json_is_400(emulator, raw):
    assert_error(post(emulator, raw=raw), 400, "InvalidParameter", "body")


@pytest.mark.parametrize(
    "raw", [b'[{"model": "doubao-seedream-3-0-t2i-250415", "prompt": "a fox"}]', b'"a fox"',
            b"42", b"null"],
    ids=["list", "string", "number", "null"],
)  # fmt: skip
def test_a_body_that_is_not_a_json_object_is_400(emulator, raw):
    assert_error(post(emulator, raw=raw), 400, "InvalidParameter", "body")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""]
)
def test_a_wrong_content_type_is_400(emulator, content_type):
    raw = b'{"model": "doubao-seedream-3-0-t2i-250415", "prompt": "a fox"}'
    response = post(emulator, raw=raw, headers={"Content-Type": content_type})
    assert_error(response, 400, "InvalidParameter", "body")


def test_json_with_a_charset_is_accepted(emulator):
    response = post(emulator, body(), headers={"Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == 200


def test_the_key_is_checked_before_the_body(emulator):
    response = post(emulator, raw=b"{not json", key="wrong")
    assert_error(response, 401, "AuthenticationError")
