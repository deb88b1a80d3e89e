"""Never strand a job: every ingest failure ends coded at once, a broker outage at submit
loses nothing, and retry goes only where it can help, within the day's quota."""

import base64
import logging
from datetime import timedelta
from io import BytesIO

import pytest
from django.utils import timezone
from PIL import Image as PILImage

from gallery.models import Generation, MemberQuota, ProviderCall
from gallery.seedream.contract import GenerationParams
from gallery.services import generation as service
from gallery.services import ingest
from tests.generations import run_until_settled as settle

pytestmark = pytest.mark.django_db

Status = Generation.Status


@pytest.fixture
def services(redis_url, s3_server, emulator):
    return emulator


def make(user, status, **fields) -> Generation:
    defaults = dict(prompt="a kite", model="doubao-seedream-3-0-t2i-250415", width=1024,
                    height=1024, seed=1, guidance_scale=2.5, status=status)  # fmt: skip
    return Generation.objects.create(user=user, **{**defaults, **fields})


def answered(user, *, url=None, b64=None) -> Generation:
    result = {"url": url, "b64_json": b64, "model": "m", "created": 0, "generated_images": 1,
              "request_id": "r-1"}  # fmt: skip
    return make(user, Status.FETCHED, provider_result=result, provider_answered_at=timezone.now())


def picture(fmt: str) -> str:
    buffer = BytesIO()
    PILImage.new("RGB", (1024, 1024), "teal").save(buffer, fmt)
    return base64.b64encode(buffer.getvalue()).decode()


# --- Ingest failures are coded at once ----------------------------------------------------


def test_a_webp_answer_is_refused_at_the_header_check_not_left_in_fetched(services, alice):
    generation = settle(answered(alice, b64=picture("WEBP")))
    assert generation.status == Status.FAILED
    assert generation.error_code == "unsupported_format"
    assert generation.ingest_attempts == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://images.example.com:99999/a.jpeg",  # a port out of range
        "https://[::1/a.jpeg",  # a broken IPv6 literal
        "https://images.example.com:8443/a.jpeg",  # https elsewhere than 443
    ],
)
def test_a_malformed_or_odd_port_link_fails_at_once_as_refused(services, alice, url):
    generation = settle(answered(alice, url=url))
    assert generation.status == Status.FAILED
    assert generation.error_code == "download_refused"
    assert generation.ingest_attempts == 1


def test_an_unforeseen_ingest_error_fails_the_job_coded_and_logs_the_traceback(
    services, alice, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise KeyError("nobody saw this coming")

    monkeypatch.setattr(ingest.imaging, "inspect_image", broken)
    with caplog.at_level(logging.ERROR):
        generation = settle(answered(alice, b64=picture("PNG")))
    assert generation.status == Status.FAILED
    assert generation.error_code == "ingest_error"
    assert "Retry" in generation.error_message
    assert any(
        r.exc_info and "nobody saw this coming" in str(r.exc_info[1]) for r in caplog.records
    )


# --- A broker outage at submit -------------------------------------------------------------


@pytest.fixture
def broker_down(redis_url):
    """The Celery app points at a port where nothing listens, as when Redis is down."""
    from config.celery import app
    from gallery.devstack import free_port

    def point_at(url):
        app.conf.broker_url = url
        app._pool = None
        app.amqp._producer_pool = None

    point_at(f"redis://127.0.0.1:{free_port()}/0")
    yield
    point_at(redis_url)


@pytest.mark.django_db(transaction=True)  # the enqueue runs on a real commit
def test_submit_while_the_broker_is_down_saves_the_jobs_and_says_they_will_start(
    alice_client, broker_down
):
    form = {"prompt": "a kite", "size": "1024x1024", "seed": "", "guidance_scale": "2.5",
            "model": "doubao-seedream-3-0-t2i-250415", "variations": "2"}  # fmt: skip
    response = alice_client.post("/generate/", form, follow=True)
    assert response.status_code == 200
    assert Generation.objects.filter(status=Status.QUEUED).count() == 2
    assert "saved and will start" in response.content.decode()


def test_the_sweeper_queues_jobs_saved_during_a_broker_outage(alice, redis_url, settings):
    import json

    import redis

    settings.GENERATION_STUCK_AFTER = 60
    queue = redis.Redis.from_url(redis_url)
    queue.delete("celery")
    saved = make(alice, Status.QUEUED, status_changed_at=timezone.now() - timedelta(seconds=61))
    assert service.sweep_stuck() == {"requeued": 1, "failed": 0}
    (message,) = [json.loads(raw) for raw in queue.lrange("celery", 0, -1)]
    assert message["headers"]["task"] == "gallery.run_generation"
    assert json.loads(base64.b64decode(message["body"]))[0] == [saved.pk]


# --- Retry -----------------------------------------------------------------------------------


def test_retry_counts_against_todays_quota_even_for_yesterdays_job(alice, redis_url):
    MemberQuota.objects.create(user=alice, daily_image_limit=1)
    yesterday = timezone.now() - timedelta(days=1)
    failed = make(alice, Status.FAILED, created_at=yesterday, error_code="provider_error")
    make(alice, Status.QUEUED)  # today's one image
    with pytest.raises(service.QuotaExceeded):
        service.retry(user=alice, generation_id=failed.pk)
    failed.refresh_from_db()
    assert failed.status == Status.FAILED


def test_a_retried_job_uses_up_todays_quota(alice, redis_url):
    MemberQuota.objects.create(user=alice, daily_image_limit=1)
    yesterday = timezone.now() - timedelta(days=1)
    failed = make(alice, Status.FAILED, created_at=yesterday, error_code="provider_error")
    service.retry(user=alice, generation_id=failed.pk)
    assert service.images_left_today(alice) == 0


def test_retry_after_the_filter_withheld_the_image_uses_a_new_seed_and_says_so(
    alice_client, alice, redis_url
):
    failed = make(alice, Status.FAILED, seed=5, error_code="output_refused")
    response = alice_client.post(f"/generations/{failed.pk}/retry/", HTTP_HX_REQUEST="true")
    failed.refresh_from_db()
    assert failed.status == Status.QUEUED
    assert failed.seed != 5
    assert f"uses a new seed ({failed.seed})" in response.content.decode()


def test_retry_is_not_offered_for_a_dead_link(alice_client, alice):
    dead = make(alice, Status.FAILED, error_code="image_unavailable")
    html = alice_client.get(f"/generations/{dead.pk}/card/").content.decode()
    assert ">Retry<" not in html


@pytest.mark.parametrize("action", ["cancel", "retry"])
def test_acting_on_another_members_job_is_a_404_that_leaves_no_message_behind(
    alice_client, bob, action
):
    theirs = make(bob, Status.FAILED if action == "retry" else Status.CALLING)
    response = alice_client.post(f"/generations/{theirs.pk}/{action}/")
    assert response.status_code == 404
    later = alice_client.get("/").content.decode()
    assert "cannot be canceled" not in later and "can be retried" not in later


# --- Messages and logs ---------------------------------------------------------------------


def test_prompts_stay_out_of_info_logs(services, alice, caplog):
    with caplog.at_level(logging.INFO):
        settle(service.submit(user=alice, params=GenerationParams(prompt="my secret garden"))[0])
    assert "request_id=" in caplog.text
    assert "my secret garden" not in caplog.text


def test_waiting_for_storage_shows_on_the_card(alice_client, alice):
    waiting = make(alice, Status.FETCHED, error_code="storage_unavailable",
                   error_message=service.WAITING_FOR_STORAGE)  # fmt: skip
    html = alice_client.get(f"/generations/{waiting.pk}/card/").content.decode()
    assert "Saving, waiting for storage." in html


def test_staff_may_give_up_waiting_for_storage(alice):
    waiting = answered(alice, b64="eA==")
    Generation.objects.filter(pk=waiting.pk).update(error_code="storage_unavailable")
    assert service.give_up_storing([waiting.pk]) == 1
    waiting.refresh_from_db()
    assert (waiting.status, waiting.can_retry) == (Status.FAILED, True)
    assert "stopped waiting" in waiting.error_message


# --- Admin keeps billing records ------------------------------------------------------------


def test_admin_cannot_delete_provider_calls_or_jobs_that_have_them(client, sam, alice):
    client.force_login(sam)
    billed = make(alice, Status.SUCCEEDED)
    call = ProviderCall.objects.create(generation=billed, user=alice, generated_images=1)
    unbilled = make(alice, Status.CANCELED)
    assert client.get(f"/admin/gallery/generation/{billed.pk}/delete/").status_code == 403
    assert client.get(f"/admin/gallery/providercall/{call.pk}/delete/").status_code == 403
    assert client.get(f"/admin/gallery/generation/{unbilled.pk}/delete/").status_code == 200
    changelist = client.get("/admin/gallery/generation/").content.decode()
    assert "delete_selected" not in changelist


def test_an_answer_keeps_waiting_for_storage_for_hours_with_capped_backoff(
    services, alice, settings
):
    from tests.fixtures.services import _reset_storages

    settings.GENERATION_MAX_INGEST_ATTEMPTS = 2
    settings.GENERATION_RETRY_MAX_DELAY = 60
    good = settings.AWS_S3_ENDPOINT_URL
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9"
    _reset_storages()
    try:
        waiting = answered(alice, b64=picture("PNG"))
        Generation.objects.filter(pk=waiting.pk).update(
            provider_answered_at=timezone.now() - timedelta(hours=3)
        )
        for _ in range(4):  # more tries than the ingest attempts allow
            Generation.objects.filter(pk=waiting.pk).update(next_attempt_at=None)
            outcome = service.run(waiting.pk)
            assert outcome.status == Status.FETCHED
            assert 45 <= outcome.retry_in <= 60  # capped, not growing without bound
    finally:
        settings.AWS_S3_ENDPOINT_URL = good
        _reset_storages()
    waiting.refresh_from_db()
    assert (waiting.status, waiting.error_message) == (Status.FETCHED, service.WAITING_FOR_STORAGE)
    assert waiting.ingest_attempts == 0
    Generation.objects.filter(pk=waiting.pk).update(next_attempt_at=None)  # storage is back
    assert settle(waiting).status == Status.SUCCEEDED
