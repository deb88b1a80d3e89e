"""`Idempotency-Key` at the gateway: a retry gets the first request's generation, another
body under the same key is a conflict, and keys expire after a day."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from gallery.models import Generation, IdempotencyKey

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/v1/images/generations"
BODY = {"model": "doubao-seedream-3-0-t2i-250415", "prompt": "a lighthouse at dusk", "seed": 7}


@pytest.fixture
def client(async_view_client):
    """The gateway's views are async: send from a thread without an event loop."""
    return async_view_client


@pytest.fixture(autouse=True)
def _services(redis_url, settings):
    settings.GATEWAY_WAIT_TIMEOUT = 0.2  # no worker: every answer is the wait's timeout


def post(client, token, body, key):
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    return client.post(URL, data=json.dumps(body), content_type="application/json",
                       headers=headers)  # fmt: skip


def test_a_retry_with_the_same_key_and_body_waits_for_the_first_generation(client, alice_token):
    first = post(client, alice_token, BODY, "key-1")
    again = post(client, alice_token, {**BODY, "size": None}, "key-1")  # null: absent
    generation = Generation.objects.get()
    assert first.json()["error"]["generation_id"] == generation.pk
    assert again.json()["error"]["generation_id"] == generation.pk


def test_a_finished_generation_is_answered_again_for_its_key(client, alice_token):
    post(client, alice_token, BODY, "key-1")
    Generation.objects.update(status=Generation.Status.FAILED, error_code="input_refused",
                              error_message="The prompt was refused.")  # fmt: skip
    response = post(client, alice_token, BODY, "key-1")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InputTextSensitiveContentDetected"
    assert Generation.objects.count() == 1


def test_the_same_key_with_another_body_is_a_422_naming_the_conflict(client, alice_token):
    post(client, alice_token, BODY, "key-1")
    response = post(client, alice_token, {**BODY, "seed": 8}, "key-1")
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("idempotency_conflict", "Idempotency-Key")
    assert "key-1" in error["message"] and "different request body" in error["message"]
    assert Generation.objects.count() == 1


def test_keys_are_per_member(client, alice_token, bob_token):
    post(client, alice_token, BODY, "key-1")
    post(client, bob_token, BODY, "key-1")
    assert Generation.objects.count() == 2


def test_a_key_older_than_a_day_starts_a_new_generation(client, alice_token):
    post(client, alice_token, BODY, "key-1")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=24, seconds=1))
    post(client, alice_token, BODY, "key-1")
    assert Generation.objects.count() == 2
    assert IdempotencyKey.objects.count() == 1


def test_without_a_key_a_retry_generates_again(client, alice_token):
    for _ in range(2):
        client.post(URL, data=json.dumps(BODY), content_type="application/json",
                    headers={"Authorization": f"Bearer {alice_token}"})  # fmt: skip
    assert Generation.objects.count() == 2


@pytest.mark.parametrize("key", ["k" * 256, "caf\u00e9", "tab\there"])
def test_a_malformed_key_is_400_naming_the_header(client, alice_token, key):
    response = post(client, alice_token, BODY, key)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "Idempotency-Key"
    assert not Generation.objects.exists()


def test_two_concurrent_requests_with_one_key_generate_once(alice_token):
    from concurrent.futures import ThreadPoolExecutor

    from tests.fixtures.gateway import OwnThreadClient

    def send(_):
        answer = post(OwnThreadClient(), alice_token, BODY, "key-race")
        return answer.json()["error"]["generation_id"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        answered = set(pool.map(send, range(4)))
    assert answered == {Generation.objects.get().pk}


def test_the_hourly_purge_forgets_only_keys_older_than_a_day(client, alice_token):
    from gallery.tasks import purge_idempotency_keys

    post(client, alice_token, BODY, "old")
    post(client, alice_token, BODY, "new")
    IdempotencyKey.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(hours=24, seconds=1)
    )
    assert purge_idempotency_keys() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
