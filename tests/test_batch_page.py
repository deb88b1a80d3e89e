"""The batch page speaks plainly: status words with elapsed time, progress in the tab title,
what can still be canceled, and a refresh for browsers without JavaScript."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gallery.models import Generation
from tests.test_gallery_pages import make_generation

pytestmark = pytest.mark.django_db


def test_status_words_and_elapsed_time(alice_client, alice):
    started = timezone.now() - timedelta(seconds=75)
    job = make_generation(alice, status="calling", created_at=started)
    for status in ("queued", "fetched", "failed"):
        make_generation(alice, batch=job.batch, status=status, created_at=started)
    html = alice_client.get(f"/generate/{job.batch}/").content.decode()
    for word in ("Waiting", "Generating", "Saving", "Failed"):
        assert f">{word}</span>" in html
    assert "1 min 15 s" in html or "1 min 16 s" in html
    assert "Calling the provider" not in html  # the pipeline's word, not the member's


def test_tab_title_shows_the_batchs_progress(alice_client, alice):
    job = make_generation(alice, status="succeeded", finished_at=timezone.now())
    make_generation(alice, batch=job.batch, status="calling")
    make_generation(alice, batch=job.batch, status="queued")
    html = alice_client.get(f"/generate/{job.batch}/").content.decode()
    assert "<title>(1/3) Waiting · Seedgallery</title>" in html


def test_a_polled_card_brings_the_batchs_progress_as_the_title(alice_client, alice):
    job = make_generation(alice, status="succeeded", finished_at=timezone.now())
    running = make_generation(alice, batch=job.batch, status="fetched")
    html = alice_client.get(f"/generations/{running.pk}/card/").content.decode()
    assert html.startswith("<title>(1/2) Saving · Seedgallery</title>")


def test_a_polled_card_updates_cancel_the_rest_as_jobs_start(alice_client, alice):
    job = make_generation(alice, status="calling")
    make_generation(alice, batch=job.batch, status="queued")
    html = alice_client.get(f"/generations/{job.pk}/card/").content.decode()
    assert '<div id="batch-actions" class="batch-actions" hx-swap-oob="true">' in html
    assert "1 job is still waiting to start." in html
    Generation.objects.filter(batch=job.batch).update(status="calling")
    html = alice_client.get(f"/generations/{job.pk}/card/").content.decode()
    assert "Cancel the rest" not in html


def test_a_finished_batch_title_says_done(alice_client, alice):
    job = make_generation(alice, status="succeeded", finished_at=timezone.now())
    make_generation(alice, batch=job.batch, status="failed")
    html = alice_client.get(f"/generate/{job.batch}/").content.decode()
    assert "<title>(2/2) Done · Seedgallery</title>" in html


def test_a_calling_job_says_the_provider_is_already_making_it(alice_client, alice):
    job = make_generation(alice, status="calling")
    html = alice_client.get(f"/generate/{job.batch}/").content.decode()
    assert "The provider is already making it" in html
    assert ">Cancel</button>" not in html


def test_noscript_refresh_only_while_jobs_run(alice_client, alice):
    job = make_generation(alice, status="calling")
    html = alice_client.get(f"/generate/{job.batch}/").content.decode()
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in html
    Generation.objects.filter(pk=job.pk).update(status="succeeded")
    html = alice_client.get(f"/generate/{job.batch}/").content.decode()
    assert "http-equiv" not in html


def test_cancel_the_rest_cancels_only_the_waiting_jobs(alice_client, alice):
    calling = make_generation(alice, status="calling")
    waiting = [make_generation(alice, batch=calling.batch) for _ in range(2)]
    other_batch = make_generation(alice)
    html = alice_client.get(f"/generate/{calling.batch}/").content.decode()
    assert ">Cancel the rest</button>" in html and "2 jobs are still waiting" in html
    response = alice_client.post(f"/generate/{calling.batch}/cancel/", follow=True)
    assert "Canceled 2 waiting job(s)." in response.content.decode()
    assert {g.status for g in Generation.objects.filter(pk__in=[w.pk for w in waiting])} == {
        "canceled"
    }
    calling.refresh_from_db()
    other_batch.refresh_from_db()
    assert calling.status == "calling" and other_batch.status == "queued"


def test_cancel_the_rest_with_nothing_waiting_says_so(alice_client, alice):
    calling = make_generation(alice, status="calling")
    response = alice_client.post(f"/generate/{calling.batch}/cancel/", follow=True)
    assert "No job was waiting" in response.content.decode()


def test_cancel_the_rest_is_post_only_and_the_owners_alone(client, alice, bob, sam):
    job = make_generation(alice)
    client.force_login(bob)
    assert client.post(f"/generate/{job.batch}/cancel/").status_code == 404
    client.force_login(sam)  # staff may look, not cancel a member's jobs
    assert client.post(f"/generate/{job.batch}/cancel/").status_code == 404
    client.force_login(alice)
    assert client.get(f"/generate/{job.batch}/cancel/").status_code == 405
    job.refresh_from_db()
    assert job.status == "queued"


def test_job_tiles_keep_the_images_aspect_ratio(alice_client, alice):
    job = make_generation(alice, width=1512, height=648)
    html = alice_client.get(f"/generate/{job.batch}/").content.decode()
    assert 'viewBox="0 0 1512 648"' in html


def test_same_settings_link_from_a_batch(alice_client, alice):
    job = make_generation(alice)
    html = alice_client.get(f"/generate/{job.batch}/").content.decode()
    assert f'href="/generate/?from={job.batch}">Same settings</a>' in html


def test_a_polled_card_brings_the_navigations_running_count_down(alice_client, alice):
    job = make_generation(alice, status="calling")
    other = make_generation(alice, batch=job.batch, status="queued")
    html = alice_client.get(f"/generations/{job.pk}/card/").content.decode()
    assert '<span id="running-count" hx-swap-oob="true"> <span class="count"' in html
    assert ">2</span>" in html
    Generation.objects.filter(pk__in=[job.pk, other.pk]).update(status="succeeded")
    html = alice_client.get(f"/generations/{job.pk}/card/").content.decode()
    assert '<span id="running-count" hx-swap-oob="true"></span>' in html
