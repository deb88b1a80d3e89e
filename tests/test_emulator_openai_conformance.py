"""Conformance with a client no one here wrote: the official `openai` package reads the
emulator's answers as ImagesResponse values and its errors as the matching exceptions."""

import base64
import io

import openai
import pytest
import requests
from PIL import Image

from gallery.seedream import contract

MODEL = contract.DEFAULT_MODEL


@pytest.fixture
def client(emulator) -> openai.OpenAI:
    return openai.OpenAI(base_url=emulator.base_url, api_key=emulator.key, max_retries=0)


def generate(client: openai.OpenAI, **kwargs) -> openai.types.ImagesResponse:
    extra = {"seed": 21, "guidance_scale": 3.5, "watermark": False, **kwargs.pop("extra", {})}
    return client.images.generate(
        model=kwargs.pop("model", MODEL),
        prompt="a paper boat on a puddle",
        size=kwargs.pop("size", "1024x1024"),
        response_format=kwargs.pop("response_format", "url"),
        extra_body=extra,
        timeout=30,
        **kwargs,
    )


def test_url_format_gives_a_usable_images_response(client):
    response = generate(client, size="864x1152")
    assert isinstance(response, openai.types.ImagesResponse)
    assert response.created > 0
    assert response.to_dict()["usage"] == {"generated_images": 1}
    fetched = requests.get(response.data[0].url, timeout=10)
    image = Image.open(io.BytesIO(fetched.content))
    assert (image.format, image.size) == ("JPEG", (864, 1152))


def test_b64_format_gives_a_usable_images_response(client):
    response = generate(client, response_format="b64_json")
    assert response.data[0].url is None
    image = Image.open(io.BytesIO(base64.b64decode(response.data[0].b64_json)))
    assert (image.format, image.size) == ("JPEG", (1024, 1024))


def test_the_seed_in_extra_body_is_honoured(client):
    first = generate(client, response_format="b64_json").data[0].b64_json
    again = generate(client, response_format="b64_json").data[0].b64_json
    other = generate(client, response_format="b64_json", extra={"seed": 22}).data[0].b64_json
    assert first == again != other


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"size": "10x10"}, "size"),
        ({"extra": {"guidance_scale": 12}}, "guidance_scale"),
        ({"extra": {"seed": "x"}}, "seed"),
        ({"extra": {"stream": True}}, "stream"),
    ],
)
def test_a_bad_parameter_is_a_bad_request_error(client, kwargs, param):
    with pytest.raises(openai.BadRequestError) as caught:
        generate(client, **kwargs)
    assert caught.value.code == "InvalidParameter"
    assert caught.value.param == param
    assert caught.value.request_id == caught.value.response.headers["X-Request-Id"]


def test_a_wrong_key_is_an_authentication_error(emulator):
    wrong = openai.OpenAI(base_url=emulator.base_url, api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        generate(wrong)
    assert caught.value.code == "AuthenticationError"


def test_an_unknown_model_is_a_not_found_error(client):
    with pytest.raises(openai.NotFoundError) as caught:
        generate(client, model="doubao-seedream-9-0")
    assert caught.value.code == "InvalidEndpointOrModel"


def test_a_rate_limit_is_a_rate_limit_error(client, emulator):
    emulator.faults(count=1, status=429, code="RateLimitExceeded")
    with pytest.raises(openai.RateLimitError) as caught:
        generate(client)
    assert caught.value.code == "RateLimitExceeded"


def test_an_account_problem_is_a_permission_denied_error(client, emulator):
    emulator.faults(count=1, code="AccountOverdueError")
    with pytest.raises(openai.PermissionDeniedError):
        generate(client)


def test_a_provider_failure_is_an_internal_server_error(client, emulator):
    emulator.faults(count=1, status=500)
    with pytest.raises(openai.InternalServerError) as caught:
        generate(client)
    assert caught.value.code == "InternalServiceError"


def test_a_reset_connection_is_a_connection_error(client, emulator):
    emulator.faults(count=1, kind="reset")
    with pytest.raises(openai.APIConnectionError):
        generate(client)


def test_the_sdk_retries_a_rate_limit_and_then_succeeds(emulator):
    retrying = openai.OpenAI(base_url=emulator.base_url, api_key=emulator.key, max_retries=2)
    emulator.faults(count=2, status=429, code="RateLimitExceeded")
    assert generate(retrying).data[0].url
    assert emulator.stats()["by_status"] == {"429": 2, "200": 1}
