"""The pipeline's service, run in-process against the emulator over HTTP and real S3."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gallery import imaging
from gallery.models import Generation, Image, ProviderCall
from gallery.seedream.contract import GenerationParams
from gallery.services import generation as service
from gallery.storage import media_storage
from tests.generations import run_until_settled, submit

pytestmark = pytest.mark.django_db

Status = Generation.Status


@pytest.fixture
def services(redis_url, s3_server, emulator):
    return emulator


def test_run_stores_a_labelled_original_and_a_webp_thumbnail(services, alice):
    generation = run_until_settled(submit(alice, prompt="灯塔 at dusk <&>", guidance_scale=3.0))
    assert generation.status == Status.SUCCEEDED
    image = Image.objects.get(generation=generation)
    assert (image.width, image.height, image.seed) == (1024, 1024, 42)
    storage = media_storage()
    with storage.open(image.original_key) as fh:
        original = fh.read()
    assert image.byte_size == len(original)
    meta = imaging.read_metadata(original)
    assert meta["prompt"] == "灯塔 at dusk <&>"
    assert meta["seed"] == 42
    assert meta["digital_source_type"].endswith("/trainedAlgorithmicMedia")
    head = storage.connection.meta.client.head_object(
        Bucket=storage.bucket_name, Key=image.original_key
    )
    assert head["ContentType"] == "image/jpeg"
    with storage.open(image.thumbnail_key) as fh:
        thumb = fh.read()
    assert thumb[:4] == b"RIFF" and thumb[8:12] == b"WEBP"
    assert max(image.thumb_width, image.thumb_height) == 384
    assert services.stats()["requests"] == 1
    call = ProviderCall.objects.get(generation=generation)
    assert (call.http_status, call.generated_images, call.is_repeat) == (200, 1, False)
    assert generation.provider_request_id


def test_a_run_from_queued_to_succeeded_reads_the_row_once(services, alice):
    # The row is read once; every later change is written by a conditional statement whose
    # values the run keeps, instead of reading the row back (the worker's cost per image).
    generation = submit(alice)
    with CaptureQueriesContext(connection) as queries:
        assert service.run(generation.pk).status == Status.SUCCEEDED
    statements = [
        query["sql"].split(None, 1)[0]
        for query in queries.captured_queries
        if not query["sql"].startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "PRAGMA"))
    ]
    # Read; claim (open the call, mark the row); store the answer (on the call and the row,
    # counting the ingest attempt); finish (mark the row, add the image).
    assert statements == ["SELECT", "INSERT", "UPDATE", "UPDATE", "UPDATE", "UPDATE", "INSERT"]
    generation.refresh_from_db()
    assert (generation.provider_attempts, generation.ingest_attempts) == (1, 1)


def test_redelivered_task_does_not_call_provider_again(services, alice):
    generation = run_until_settled(submit(alice))
    assert generation.status == Status.SUCCEEDED
    assert service.run(generation.pk).status == Status.SUCCEEDED
    assert services.stats()["requests"] == 1
    assert Image.objects.count() == 1


def test_row_with_an_answer_resumes_the_ingest_without_calling(services, alice, settings):
    # The answer is stored, then storage is down: the job waits in `fetched`.
    good_endpoint = settings.AWS_S3_ENDPOINT_URL
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9"
    _reset()
    generation = submit(alice)
    outcome = service.run(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.FETCHED
    assert outcome.retry_in is not None
    assert generation.error_code == "storage_unavailable"
    assert generation.error_message == "Saving, waiting for storage."
    assert not Image.objects.exists()  # the row's update waited for storage, and rolled back
    # Storage returns; the redelivered task stores the answer it already has.
    settings.AWS_S3_ENDPOINT_URL = good_endpoint
    _reset()
    generation = run_until_settled(generation)
    assert generation.status == Status.SUCCEEDED
    assert generation.ingest_attempts == 1  # waiting for storage costs no attempt
    assert services.stats()["requests"] == 1


def test_row_found_mid_call_is_called_again_and_the_cut_off_call_counted_as_billed(services, alice):
    generation = submit(alice)
    crashed_at = timezone.now() - service.call_lease() - timedelta(seconds=1)
    cut_off = ProviderCall.objects.create(generation=generation, user=alice, started_at=crashed_at)
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.CALLING, provider_attempts=1, status_changed_at=crashed_at,
        current_call=cut_off,
    )  # fmt: skip
    generation = run_until_settled(generation)
    assert generation.status == Status.SUCCEEDED
    assert generation.repeat_calls == 1
    cut_off.refresh_from_db()
    assert (cut_off.possibly_billed, cut_off.error_code) == (True, "cut_off")
    assert cut_off.finished_at is not None
    repeat = ProviderCall.objects.exclude(pk=cut_off.pk).get(generation=generation)
    assert repeat.is_repeat and repeat.result is not None
    assert services.stats()["requests"] == 1
    assert [row["images"] for row in service.usage_by_user()] == [2]  # the cut-off one counts


def test_row_mid_call_within_its_lease_is_left_to_the_caller(services, alice):
    generation = submit(alice)
    Generation.objects.filter(pk=generation.pk).update(status=Status.CALLING, provider_attempts=1)
    outcome = service.run(generation.pk)
    assert outcome.status == Status.CALLING
    assert 0 < outcome.retry_in <= service.call_lease().total_seconds()
    assert services.stats()["requests"] == 0
    assert not ProviderCall.objects.exists()


@pytest.mark.parametrize(
    ("fault", "code", "message"),
    [
        ({"status": 400, "code": "InvalidParameter"}, "invalid_parameter", "rejected a parameter"),
        (
            {"status": 400, "code": "InputTextSensitiveContentDetected"},
            "input_refused",
            "prompt was refused by the provider's content filter",
        ),
        (
            {"status": 400, "code": "OutputImageSensitiveContentDetected"},
            "output_refused",
            "withheld by the provider's content filter",
        ),
        ({"status": 401, "code": "AuthenticationError"}, "auth_failed", "API key"),
        ({"status": 403, "code": "AccountOverdueError"}, "access_denied", "operator"),
        ({"status": 429, "code": "QuotaExceeded"}, "quota_exceeded", "spending limit"),
        ({"status": 200, "kind": "malformed_body"}, "bad_response", "could not understand"),
        ({"status": 200, "kind": "no_data"}, "bad_response", "could not understand"),
    ],
)
def test_provider_refusal_fails_at_once_with_a_clear_message(services, alice, fault, code, message):
    services.faults(count=1, **fault)
    generation = run_until_settled(submit(alice))
    assert generation.status == Status.FAILED
    assert generation.error_code == code
    assert message in generation.error_message
    assert generation.provider_attempts == 1
    assert services.stats()["requests"] == 1
    assert not Image.objects.exists()


def test_broken_provider_is_retried_with_backoff(services, alice):
    services.faults(count=2, status=500, code="InternalServiceError")
    generation = run_until_settled(submit(alice))
    assert generation.status == Status.SUCCEEDED
    assert generation.provider_attempts == 3
    assert services.stats()["requests"] == 3
    assert ProviderCall.objects.filter(generation=generation).count() == 3


@pytest.mark.parametrize(
    "code",
    [
        "RateLimitExceeded",
        "RateLimitExceeded.EndpointRPMExceeded",
        "ModelAccountIpmRateLimitExceeded",
    ],
)
def test_rate_limited_calls_wait_without_using_up_attempts(services, alice, settings, code):
    settings.GENERATION_MAX_PROVIDER_ATTEMPTS = 2
    services.faults(count=4, status=429, code=code)
    generation = run_until_settled(submit(alice))
    assert generation.status == Status.SUCCEEDED
    assert generation.provider_attempts == 1
    assert services.stats()["requests"] == 5
    calls = ProviderCall.objects.filter(generation=generation).order_by("id")
    assert [call.http_status for call in calls] == [429, 429, 429, 429, 200]


def test_rate_limited_job_waits_for_the_retry_after_it_was_given(services, alice, settings):
    settings.SEEDREAM_RATE_LIMIT_WAIT = 30.0
    services.faults(count=1, status=429, code="RateLimitExceeded")
    generation = submit(alice)
    outcome = service.run(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED
    assert generation.provider_attempts == 0
    assert generation.next_attempt_at - timezone.now() > timedelta(seconds=29)
    assert outcome.retry_in == settings.GENERATION_RETRY_MAX_DELAY  # back in a while, re-checks
    assert service.run(generation.pk).retry_in > 0  # still waiting: no second call
    assert services.stats()["requests"] == 1


def test_rate_limited_job_fails_only_after_the_wall_clock_budget(services, alice, settings):
    settings.GENERATION_MAX_PROVIDER_ATTEMPTS = 2
    settings.GENERATION_RATE_LIMIT_BUDGET = 0.6
    settings.SEEDREAM_RATE_LIMIT_WAIT = 0.1
    services.faults(count=1000, status=429, code="RateLimitExceeded")
    generation = run_until_settled(submit(alice), limit=40)
    assert generation.status == Status.FAILED
    assert generation.error_code == "rate_limited"
    assert generation.error_message == (
        "The image service stayed at its rate limit for 1 second, so this image was not made. "
        "Retry later, or generate fewer images at once."
    )
    assert services.stats()["requests"] > 2  # more calls than attempts: 429s cost none
    assert generation.provider_attempts == 1


def test_retries_are_bounded(services, alice, settings):
    settings.GENERATION_MAX_PROVIDER_ATTEMPTS = 3
    services.faults(count=10, status=500, code="InternalServiceError")
    generation = run_until_settled(submit(alice))
    assert generation.status == Status.FAILED
    assert generation.error_code == "provider_error"
    assert generation.error_message == (
        "The image service failed with an internal error on all 3 attempts. Retry later."
    )
    assert "retrying" not in generation.error_message
    assert services.stats()["requests"] == 3


def test_provider_timeout_is_retried(services, alice, settings):
    settings.SEEDREAM_READ_TIMEOUT = 0.3
    services.faults(count=1, kind="latency", latency_s=1.5)
    generation = run_until_settled(submit(alice))
    assert generation.status == Status.SUCCEEDED
    assert generation.provider_attempts == 2


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("url_404", "image_unavailable"),
        ("url_html", "not_an_image"),
        ("url_truncated", "truncated"),
    ],
)
def test_unusable_image_link_fails_and_stores_nothing(services, alice, kind, code):
    services.faults(count=1, status=200, kind=kind)
    generation = run_until_settled(submit(alice))
    assert generation.status == Status.FAILED
    assert generation.error_code == code
    assert generation.provider_result is not None  # the answer is kept for audit and retry
    assert not Image.objects.exists()
    assert services.stats()["requests"] == 1


def test_wrong_size_image_is_stored_with_the_mismatch_recorded(services, alice):
    services.faults(count=1, status=200, kind="url_wrong_size")
    generation = run_until_settled(submit(alice))
    assert generation.status == Status.SUCCEEDED
    image = generation.image
    assert (image.width, image.height) != (1024, 1024)
    assert (
        f"returned {image.width}x{image.height} instead of the requested 1024x1024"
        in generation.warning
    )


def test_inline_base64_answer_is_ingested(services, alice):
    from gallery.seedream import client

    generation = submit(alice)
    result = client.generate(
        GenerationParams(prompt="b64", size="1024x1024", seed=42, response_format="b64_json")
    )
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.FETCHED, provider_result=result.to_dict(), provider_answered_at=timezone.now()
    )
    generation = run_until_settled(generation)
    assert generation.status == Status.SUCCEEDED
    assert generation.image.width == 1024


def test_an_expired_provider_link_fails_clearly(services, alice):
    generation = submit(alice)
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.FETCHED,
        provider_result={
            "url": "http://127.0.0.1:9/x.jpeg",
            "model": "m",
            "created": 0,
            "generated_images": 1,
            "request_id": "r",
        },
        provider_answered_at=timezone.now() - timedelta(days=2),
    )
    generation = run_until_settled(generation)
    assert generation.status == Status.FAILED
    assert generation.error_code == "provider_url_expired"
    assert "expired" in generation.error_message


def test_cancel_only_before_the_job_starts(services, alice, bob):
    generation = submit(alice)
    assert not service.cancel(user=bob, generation_id=generation.pk)
    assert service.cancel(user=alice, generation_id=generation.pk)
    assert service.run(generation.pk).status == Status.CANCELED
    assert services.stats()["requests"] == 0
    started = submit(alice)
    Generation.objects.filter(pk=started.pk).update(status=Status.CALLING)
    assert not service.cancel(user=alice, generation_id=started.pk)


def test_retry_after_a_refusal_calls_the_provider_again(services, alice):
    services.faults(count=1, status=400, code="InvalidParameter")
    generation = run_until_settled(submit(alice))
    assert generation.status == Status.FAILED
    assert service.retry(user=alice, generation_id=generation.pk)
    generation = run_until_settled(generation)
    assert generation.status == Status.SUCCEEDED
    assert services.stats()["requests"] == 2


def test_retry_after_a_failed_ingest_reuses_the_answer(services, alice):
    services.faults(count=1, status=200, kind="url_html")
    generation = run_until_settled(submit(alice))
    assert generation.status == Status.FAILED
    assert service.retry(user=alice, generation_id=generation.pk).status == Status.FETCHED
    run_until_settled(generation)
    assert services.stats()["requests"] == 1  # never paid twice


def test_retry_is_refused_where_the_link_is_dead(services, alice):
    services.faults(count=1, status=200, kind="url_404")
    generation = run_until_settled(submit(alice))
    assert (generation.status, generation.can_retry) == (Status.FAILED, False)
    with pytest.raises(service.NotRetryable) as caught:
        service.retry(user=alice, generation_id=generation.pk)
    assert "link to this image is gone" in caught.value.message
    generation.refresh_from_db()
    assert generation.status == Status.FAILED


def test_usage_counts_every_billed_image(services, alice, bob):
    run_until_settled(submit(alice))
    run_until_settled(submit(alice, seed=7))
    run_until_settled(submit(bob))
    usage = {row["user_id"]: row["images"] for row in service.usage_by_user()}
    assert usage == {alice.pk: 2, bob.pk: 1}


def _reset():
    from tests.fixtures.services import _reset_storages

    _reset_storages()


@pytest.mark.django_db(transaction=True)
def test_no_database_connection_is_held_while_the_provider_works(services, alice, monkeypatch):
    from django.db import connection

    held = []
    real = service.seedream.generate

    def generate(*args, **kwargs):
        held.append(connection.connection is not None)
        return real(*args, **kwargs)

    monkeypatch.setattr(service.seedream, "generate", generate)
    generation = run_until_settled(submit(alice))
    assert generation.status == Status.SUCCEEDED
    assert held == [False]
