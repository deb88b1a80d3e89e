"""Never pay twice: calls that may have reached the provider are counted and repeated at most
once, and the answer of a call that lost its claim never overwrites the newer claim."""

import pytest
from django.utils import timezone

from gallery.models import Generation, ProviderCall
from gallery.services import generation as service
from tests.generations import run_until_settled as settle
from tests.generations import submit

pytestmark = pytest.mark.django_db

Status = Generation.Status


@pytest.fixture
def services(redis_url, s3_server, emulator):
    return emulator


def usage_of(user) -> int:
    return next(row["images"] for row in service.usage_by_user() if row["user_id"] == user.pk)


def test_a_provider_reset_after_reading_the_request_is_repeated_once_and_both_are_counted(
    services, alice
):
    services.faults(count=1, kind="reset")
    generation = settle(submit(alice))
    assert generation.status == Status.SUCCEEDED
    assert generation.repeat_calls == 1
    assert services.stats()["requests"] == 2
    first, second = ProviderCall.objects.filter(generation=generation).order_by("id")
    assert (first.error_code, first.possibly_billed, first.is_repeat) == (
        "connection_lost",
        True,
        False,
    )
    assert (second.http_status, second.is_repeat, second.generated_images) == (200, True, 1)
    assert usage_of(alice) == 2  # the cut call may have made an image too


def test_a_second_ambiguous_failure_is_not_repeated_and_says_why(services, alice, settings):
    settings.SEEDREAM_READ_TIMEOUT = 0.3
    settings.SEEDREAM_TOTAL_TIMEOUT = 2.0
    services.faults(count=5, kind="latency", latency_s=1.0)
    generation = settle(submit(alice))
    assert generation.status == Status.FAILED
    assert generation.error_code == "timeout"
    assert generation.repeat_calls == 1
    assert services.stats()["requests"] == 2  # never a third automatic call
    assert "may have made the image" in generation.error_message
    assert "Retry" in generation.error_message
    calls = ProviderCall.objects.filter(generation=generation)
    assert [c.possibly_billed for c in calls] == [True, True]
    assert usage_of(alice) == 2


def test_a_connection_that_never_opened_is_retried_without_counting_a_repeat(
    services, alice, settings
):
    from gallery.devstack import free_port

    good = settings.SEEDREAM_BASE_URL
    settings.SEEDREAM_BASE_URL = f"http://127.0.0.1:{free_port()}/v1"
    generation = submit(alice)
    outcome = service.run(generation.pk)
    assert outcome.status == Status.QUEUED
    settings.SEEDREAM_BASE_URL = good
    generation = settle(generation)
    assert generation.status == Status.SUCCEEDED
    assert generation.repeat_calls == 0
    refused = ProviderCall.objects.filter(generation=generation, error_code="connection_error")
    assert refused.get().possibly_billed is False
    assert usage_of(alice) == 1


def test_an_answer_that_arrives_after_a_newer_claim_does_not_overwrite_it(
    services, alice, monkeypatch
):
    generation = submit(alice)
    real = service.seedream.generate
    newer = {}

    def generate_while_the_lease_runs_out(*args, **kwargs):
        result = real(*args, **kwargs)
        # Meanwhile the lease passed and another worker claimed the row and called again.
        newer["call"] = ProviderCall.objects.create(generation=generation, user=alice)
        Generation.objects.filter(pk=generation.pk).update(
            current_call=newer["call"], status_changed_at=timezone.now()
        )
        return result

    monkeypatch.setattr(service.seedream, "generate", generate_while_the_lease_runs_out)
    outcome = service.run(generation.pk)
    assert outcome.status == Status.CALLING
    generation.refresh_from_db()
    assert generation.status == Status.CALLING
    assert generation.current_call_id == newer["call"].pk
    assert generation.provider_result is None
    late = ProviderCall.objects.filter(generation=generation).exclude(pk=newer["call"].pk).get()
    assert late.result is not None and late.result["url"]  # the paid answer is kept


def test_a_late_failure_does_not_put_a_newer_claim_back_in_the_queue(services, alice, monkeypatch):
    services.faults(count=1, status=500, code="InternalServiceError")
    generation = submit(alice)
    real = service.seedream.generate

    def fail_after_a_newer_claim(*args, **kwargs):
        newer = ProviderCall.objects.create(generation=generation, user=alice)
        Generation.objects.filter(pk=generation.pk).update(current_call=newer)
        return real(*args, **kwargs)

    monkeypatch.setattr(service.seedream, "generate", fail_after_a_newer_claim)
    service.run(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.CALLING
    assert generation.next_attempt_at is None


def test_the_answer_is_on_the_row_and_its_call(services, alice):
    generation = settle(submit(alice))
    call = ProviderCall.objects.get(generation=generation)
    assert call.result == generation.provider_result
    assert generation.current_call_id == call.pk
