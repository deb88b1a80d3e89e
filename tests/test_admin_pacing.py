"""The admin home shows the pacing bucket: tokens left, jobs waiting, 429s in the last hour."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from gallery import devstack
from gallery.models import ProviderCall
from gallery.seedream.contract import GenerationParams
from gallery.services import generation as service
from gallery.services import pacing

pytestmark = pytest.mark.django_db


def bucket_text(client) -> str:
    response = client.get("/admin/")
    assert response.status_code == 200
    block = re.search(r'<div class="module" id="pacing-module">.*?</div>', response.text, re.S)
    assert block, "no pacing block on the admin home"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", block.group(0)))


def rate_limited_call(user, *, minutes_ago: float) -> None:
    generation = service.submit(user=user, params=GenerationParams(prompt="a kite"))[0]
    call = ProviderCall.objects.create(
        generation=generation, user=user, http_status=429, error_code="rate_limited"
    )
    started = timezone.now() - timedelta(minutes=minutes_ago)
    ProviderCall.objects.filter(pk=call.pk).update(started_at=started)


def test_admin_home_shows_tokens_waiting_jobs_and_recent_429s(
    client, sam, alice, redis_url, settings
):
    settings.SEEDREAM_IPM_LIMIT, settings.SEEDREAM_IPM_BURST = 9, 3  # 3 a minute refill
    pacing.reset()
    for job in range(1, 6):  # three take the tokens, two wait
        pacing.take(job_id=job, member_id=alice.pk)
    rate_limited_call(alice, minutes_ago=5)
    rate_limited_call(alice, minutes_ago=90)  # older than an hour: not counted
    client.force_login(sam)
    text = bucket_text(client)
    pacing.reset()
    assert "Provider rate limit" in text
    assert "9 images a minute" in text
    assert "Tokens left 0" in text
    assert "Jobs waiting for a token 2" in text
    assert "429s in the last hour 1" in text


def test_admin_home_says_when_nothing_paces(client, sam, redis_url, settings):
    settings.SEEDREAM_IPM_LIMIT = 0
    client.force_login(sam)
    assert "Not paced: SEEDREAM_IPM_LIMIT is empty." in bucket_text(client)


def test_admin_home_renders_when_redis_is_away(client, sam, settings):
    settings.SEEDREAM_IPM_LIMIT = 300
    settings.REDIS_URL = f"redis://127.0.0.1:{devstack.free_port()}/0"
    client.force_login(sam)
    assert "cannot be read: Redis is unavailable" in bucket_text(client)
