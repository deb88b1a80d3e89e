"""A blocked prompt never reaches the provider, through the gateway (the official `openai`
package) or the JSON API of the running web app with a real worker: the emulator counts no
request, and a clean prompt right after still generates."""

import openai
import pytest
import requests

from gallery.models import BlockedPrompt, Generation, PromptRule
from gallery.seedream import contract

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_gateway_refuses_a_blocked_prompt_in_the_providers_shape(
    gateway_web, emulator, alice, alice_token
):
    PromptRule.objects.create(kind="regex", pattern=r"\bgor(e|y)\b")
    client = openai.OpenAI(base_url=gateway_web.v1, api_key=alice_token, max_retries=0, timeout=60)
    with pytest.raises(openai.BadRequestError) as raised:
        client.images.generate(
            model=contract.DEFAULT_MODEL, prompt="a GORY battle", size="1024x1024"
        )
    error = raised.value.body
    assert error["code"] == "InputTextSensitiveContentDetected"
    assert error["param"] == "prompt" and "blocklist" in error["message"]
    assert raised.value.response.headers["x-should-retry"] == "false"
    assert emulator.stats()["requests"] == 0
    assert Generation.objects.count() == 0
    assert BlockedPrompt.objects.get().source == "gateway"

    # With an Idempotency-Key the refusal is logged too (outside the key's transaction).
    answer = requests.post(
        f"{gateway_web.v1}/images/generations",
        json={"model": contract.DEFAULT_MODEL, "prompt": "gore"},
        headers={"Authorization": f"Bearer {alice_token}", "Idempotency-Key": "k-1"},
        timeout=30,
    )
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "prompt"
    assert BlockedPrompt.objects.count() == 2

    made = client.images.generate(
        model=contract.DEFAULT_MODEL, prompt="a calm sea", size="1024x1024"
    )
    assert made.data[0].url and emulator.stats()["requests"] == 1


def test_the_json_api_refuses_a_blocked_prompt_and_calls_nothing(
    gateway_web, emulator, alice, alice_token
):
    PromptRule.objects.create(kind="word", pattern="血腥")
    answer = requests.post(
        f"{gateway_web.url}/api/jobs",
        json={"prompt": "一个血腥的场景", "variations": 2},
        headers={"Authorization": f"Bearer {alice_token}"},
        timeout=30,
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "prompt_blocked"
    assert Generation.objects.count() == 0
    assert emulator.stats()["requests"] == 0
    assert BlockedPrompt.objects.get().source == "api"
