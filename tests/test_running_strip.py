"""The strip of running jobs above the gallery: it loads itself, polls only while a job runs,
and shows a finished job as its new tile."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from gallery.models import Generation
from tests.test_gallery_pages import make_generation, make_image

pytestmark = pytest.mark.django_db


def test_gallery_carries_the_strip_that_loads_itself(alice_client):
    html = alice_client.get("/").content.decode()
    assert 'id="running-jobs"' in html
    assert 'hx-get="/jobs/running/?since=' in html and 'hx-trigger="load"' in html


def test_strip_shows_running_jobs_and_polls(alice_client, alice):
    make_generation(alice, status="calling", width=720, height=1280)
    html = alice_client.get(f"/jobs/running/?since={int(time.time())}").content.decode()
    assert ">Generating</span>" in html
    assert 'hx-trigger="every 2s"' in html
    assert 'viewBox="0 0 720 1280"' in html


def test_a_job_finished_since_the_gallery_loaded_shows_as_its_tile_and_polling_stops(
    alice_client, alice
):
    since = int(time.time()) - 5
    image = make_image(alice, 7)
    image.generation.finished_at = timezone.now()
    image.generation.save()
    html = alice_client.get(f"/jobs/running/?since={since}").content.decode()
    assert f'href="/images/{image.pk}/"' in html and "X-Amz-Signature=" in html
    assert "every 2s" not in html
    assert "Just finished" in html


def test_strip_leaves_out_jobs_finished_before_the_gallery_loaded(alice_client, alice):
    make_generation(alice, status="succeeded", finished_at=timezone.now() - timedelta(minutes=5))
    make_generation(alice, status="canceled", finished_at=timezone.now())
    html = alice_client.get(f"/jobs/running/?since={int(time.time()) - 60}").content.decode()
    assert "strip-tile" not in html and "every 2s" not in html


def test_strip_shows_only_the_members_own_jobs(alice_client, bob):
    make_generation(bob, status="calling")
    html = alice_client.get(f"/jobs/running/?since={int(time.time())}").content.decode()
    assert "strip-tile" not in html


def test_an_empty_strip_is_an_empty_element_that_takes_no_room(alice_client):
    html = alice_client.get(f"/jobs/running/?since={int(time.time())}").content.decode()
    section = '<section id="running-jobs" class="running-strip" aria-live="polite"></section>'
    assert html.strip().endswith(section)


def test_strip_keeps_the_navigation_count_up_to_date(alice_client, alice):
    make_generation(alice, status="calling")
    make_generation(alice, status="queued")
    html = alice_client.get(f"/jobs/running/?since={int(time.time())}").content.decode()
    assert '<span id="running-count" hx-swap-oob="true">' in html and ">2</span>" in html
    Generation.objects.update(status="succeeded", finished_at=timezone.now())
    html = alice_client.get(f"/jobs/running/?since={int(time.time())}").content.decode()
    assert '<span id="running-count" hx-swap-oob="true"></span>' in html


@pytest.mark.parametrize("since", ["", "banana", "-1", "99999999999999999999", "1e9"])
def test_strip_takes_any_since_without_failing(alice_client, alice, since):
    make_generation(alice, status="queued")
    response = alice_client.get(f"/jobs/running/?since={since}")
    assert response.status_code == 200
    assert ">Waiting</span>" in response.content.decode()


def test_strip_needs_login(client, db):
    assert client.get("/jobs/running/").status_code == 302
