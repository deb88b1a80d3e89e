"""Conformance with a client no one here wrote: the official `openai` package."""

import base64
import io

import openai
import pytest
import requests
from PIL import Image

MODEL = "doubao-seedream-3-0-t2i-250415"


@pytest.fixture
def client(emulator):
    return openai.OpenAI(base_url=emulator.base_url, api_key=emulator.key, max_retries=0)


def generate(client, **kwargs):
    return client.images.generate(
        model=MODEL,
        prompt="a paper boat on a puddle",
        size=kwargs.pop("size", "1024x1024"),
        extra_body={"seed": 21, "guidance_scale": 3.5, "watermark": False},
        **kwargs,
    )


def test_url_format_gives_a_usable_images_response(client):
    response = generate(client, response_format="url", size="864x1152")
    assert isinstance(response, openai.types.ImagesResponse)
    assert response.created > 0
    image = Image.open(io.BytesIO(requests.get(response.data[0].url, timeout=10).content))
    assert image.size == (864, 1152)


def test_b64_format_gives_a_usable_images_response(client):
    response = generate(client, response_format="b64_json")
    image = Image.open(io.BytesIO(base64.b64decode(response.data[0].b64_json)))
    assert (image.format, image.size) == ("JPEG", (1024, 1024))


def test_bad_size_is_a_bad_request_error(client):
    with pytest.raises(openai.BadRequestError) as caught:
        generate(client, size="10x10")
    assert caught.value.body["code"] == "InvalidParameter"


def test_wrong_key_is_an_authentication_error(emulator):
    wrong = openai.OpenAI(base_url=emulator.base_url, api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        generate(wrong)


def test_rate_limit_is_a_rate_limit_error(client, emulator):
    emulator.faults(count=1, status=429, code="RateLimitExceeded")
    with pytest.raises(openai.RateLimitError):
        generate(client)


def test_provider_failure_is_an_internal_server_error(client, emulator):
    emulator.faults(count=1, status=500)
    with pytest.raises(openai.InternalServerError):
        generate(client)
