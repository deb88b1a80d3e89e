"""The gateway as a member's script uses it: the official `openai` package against the web
app under uvicorn, with a real worker, emulator, Redis and S3."""

import base64
import hashlib
import io

import openai
import pytest
import requests
from PIL import Image as PILImage

from gallery.models import Generation, Image, MemberQuota
from gallery.seedream import contract
from gallery.services import api_tokens

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MODEL = contract.DEFAULT_MODEL


@pytest.fixture
def web(gateway_web):
    return gateway_web


def client_for(web, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=web.v1, api_key=token, max_retries=0, timeout=60)


def generate(client: openai.OpenAI, **kwargs) -> openai.types.ImagesResponse:
    extra = {"seed": 4242, "guidance_scale": 3.5, "watermark": False, **kwargs.pop("extra", {})}
    return client.images.generate(
        model=kwargs.pop("model", MODEL),
        prompt=kwargs.pop("prompt", "a paper boat on a puddle"),
        size=kwargs.pop("size", "1024x1024"),
        response_format=kwargs.pop("response_format", "url"),
        extra_body=extra,
        **kwargs,
    )


def test_url_format_answers_with_the_stored_copy_in_the_gallery(web, alice, alice_token):
    response = generate(client_for(web, alice_token), size="864x1152", prompt="a red kite")

    image = Image.objects.get()
    assert (image.owner, image.prompt, image.seed, image.size) == (
        alice,
        "a red kite",
        4242,
        "864x1152",
    )
    assert response.to_dict()["usage"] == {"generated_images": 1}
    item = response.data[0]
    assert item.url.startswith(image.original_url.split("?")[0])  # our bucket, not the provider
    fetched = requests.get(item.url, timeout=10)
    assert hashlib.sha256(fetched.content).hexdigest() == image.sha256
    assert item.model_extra["seed"] == 4242
    assert item.model_extra["size"] == "864x1152"
    assert item.model_extra["gallery_url"].endswith(f"/images/{image.pk}/")


def test_an_answer_with_the_members_image_is_kept_by_no_cache(web, alice_token):
    raw = client_for(web, alice_token).images.with_raw_response.generate(
        model=MODEL, prompt="a kite", size="1024x1024", response_format="url"
    )
    assert raw.headers["Cache-Control"] == "private, no-store"


def test_b64_format_returns_the_stored_bytes_with_their_metadata(web, alice_token):
    response = generate(client_for(web, alice_token), response_format="b64_json")

    image = Image.objects.get()
    stored = base64.b64decode(response.data[0].b64_json)
    assert response.data[0].url is None
    assert hashlib.sha256(stored).hexdigest() == image.sha256 != image.provider_sha256
    assert b"a paper boat on a puddle" in stored  # the prompt, embedded by the ingest
    assert PILImage.open(io.BytesIO(stored)).size == (1024, 1024)


def test_a_random_seed_is_returned_so_the_image_can_be_made_again(web, alice_token):
    response = generate(client_for(web, alice_token), extra={"seed": -1})
    assert response.data[0].model_extra["seed"] == Generation.objects.get().seed


def test_models_lists_the_models_members_may_use(web, alice_token):
    models = client_for(web, alice_token).models.list()
    assert [model.id for model in models.data] == [MODEL]


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"size": "10x10"}, "size"),
        ({"extra": {"seed": "x"}}, "seed"),
        ({"extra": {"stream": True}}, "stream"),
    ],
)
def test_a_bad_parameter_is_a_bad_request_error_naming_it(web, alice_token, kwargs, param):
    with pytest.raises(openai.BadRequestError) as caught:
        generate(client_for(web, alice_token), **kwargs)
    assert caught.value.param == param
    assert caught.value.code in ("InvalidParameter", "MissingParameter")
    assert caught.value.request_id == caught.value.response.headers["X-Request-Id"]
    assert not Generation.objects.exists()


def test_an_unknown_model_is_a_not_found_error(web, alice_token):
    with pytest.raises(openai.NotFoundError) as caught:
        generate(client_for(web, alice_token), model="doubao-seedream-9-0")
    assert caught.value.code == "InvalidEndpointOrModel"


@pytest.mark.parametrize("token", ["nope", "sg_not-a-token-we-made"])
def test_a_bad_token_is_an_authentication_error(web, token):
    with pytest.raises(openai.AuthenticationError) as caught:
        generate(client_for(web, token))
    assert caught.value.code == "AuthenticationError"


def test_a_revoked_token_is_refused_at_once(web, alice, alice_token):
    client = client_for(web, alice_token)
    assert client.models.list().data
    api_tokens.revoke(user=alice, token_id=alice.api_tokens.get().pk)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_over_the_daily_quota_is_a_rate_limit_error_and_generates_nothing(web, alice, alice_token):
    MemberQuota.objects.create(user=alice, daily_image_limit=0)
    with pytest.raises(openai.RateLimitError) as caught:
        generate(client_for(web, alice_token))
    assert caught.value.code == "QuotaExceeded"
    assert "0 of your 0 daily images left" in caught.value.message
    assert not Generation.objects.exists()


def test_a_refused_prompt_is_a_bad_request_error_naming_the_generation(web, alice_token, emulator):
    emulator.faults(count=1, code="InputTextSensitiveContentDetected")
    with pytest.raises(openai.BadRequestError) as caught:
        generate(client_for(web, alice_token))
    generation = Generation.objects.get()
    assert generation.status == Generation.Status.FAILED
    assert caught.value.code == "InputTextSensitiveContentDetected"
    assert f"generation {generation.pk}" in caught.value.message
    assert caught.value.response.headers["x-should-retry"] == "false"
