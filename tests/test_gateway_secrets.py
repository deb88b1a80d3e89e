"""The provider key never leaves the house: not in a gateway answer, error or log line, even
when the provider refuses that very key."""

import openai
import pytest

from gallery.models import Generation

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SECRET = "sk-live-provider-secret-0042"


def test_a_refused_provider_key_is_an_operator_error_that_never_shows_the_key(
    start_web, start_worker, alice_token
):
    worker = start_worker(concurrency=2, SEEDREAM_API_KEY=SECRET)  # the emulator refuses it
    web = start_web(SEEDREAM_API_KEY=SECRET)
    client = openai.OpenAI(base_url=web.v1, api_key=alice_token, max_retries=0, timeout=60)
    with pytest.raises(openai.InternalServerError) as caught:
        client.images.generate(
            model="doubao-seedream-3-0-t2i-250415", prompt="a kite", response_format="b64_json"
        )
    generation = Generation.objects.get()
    assert generation.error_code == "auth_failed"
    response = caught.value.response
    assert "an operator must fix it" in caught.value.message
    assert SECRET not in response.text
    assert all(SECRET not in value for value in response.headers.values())
    assert SECRET not in web.output()
    assert SECRET not in worker.output()
