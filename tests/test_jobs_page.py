"""The Jobs page: a member finds every batch again; staff see everyone's; the navigation
counts the jobs still running."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.test_gallery_pages import make_generation

pytestmark = pytest.mark.django_db


def test_jobs_page_lists_the_members_batches_newest_first_with_their_states(alice_client, alice):
    old = make_generation(
        alice, prompt="an old kite", created_at=timezone.now() - timedelta(hours=2)
    )
    make_generation(alice, batch=old.batch, prompt="an old kite", status="failed")
    new = make_generation(alice, prompt="a new lighthouse", status="calling")
    html = alice_client.get("/jobs/").content.decode()
    assert html.index("a new lighthouse") < html.index("an old kite")
    assert f'href="/generate/{new.batch}/"' in html
    assert f'href="/generate/{old.batch}/"' in html
    assert "1 running" in html and "1 failed" in html and "of 2 images" in html


def test_jobs_page_shows_only_the_members_own_batches(alice_client, bob):
    make_generation(bob, prompt="bob's secret castle")
    html = alice_client.get("/jobs/").content.decode()
    assert "bob&#x27;s secret castle" not in html and "secret castle" not in html
    assert "No jobs yet." in html


def test_staff_see_every_members_batches_and_who_asked(client, sam, alice, bob):
    make_generation(alice, prompt="alice's tower")
    make_generation(bob, prompt="bob's bridge")
    client.force_login(sam)
    html = client.get("/jobs/").content.decode()
    assert "tower" in html and "bridge" in html
    assert ">alice<" in html and ">bob<" in html


def test_staff_may_open_another_members_batch_but_not_act_on_it(client, sam, alice):
    job = make_generation(alice, status="failed", error_message="Refused.")
    client.force_login(sam)
    html = client.get(f"/generate/{job.batch}/").content.decode()
    assert "Refused." in html
    assert ">Retry</button>" not in html
    assert client.get(f"/generations/{job.pk}/card/").status_code == 200


def test_jobs_page_takes_a_constant_number_of_queries(
    alice_client, alice, django_assert_num_queries
):
    for n in range(3):
        make_generation(alice, seed=n)
    # session, user, count of batches, the page of batches, the navigation's count and saved
    # searches
    with django_assert_num_queries(6):
        small = alice_client.get("/jobs/")
    for n in range(30):
        make_generation(alice, seed=n, status="succeeded")
    with django_assert_num_queries(6):
        large = alice_client.get("/jobs/")
    assert small.status_code == large.status_code == 200
    assert large.content.decode().count('class="card batch-row"') == 33


def test_jobs_page_pages_past_fifty_batches(alice_client, alice):
    for n in range(55):
        make_generation(alice, seed=n)
    first = alice_client.get("/jobs/").content.decode()
    assert first.count('class="card batch-row"') == 50 and "?page=2" in first
    assert alice_client.get("/jobs/?page=2").content.decode().count('class="card batch-row"') == 5
    assert alice_client.get("/jobs/?page=banana").status_code == 200


def test_navigation_counts_running_jobs_only_while_there_are_some(alice_client, alice):
    html = alice_client.get("/jobs/").content.decode()
    assert 'class="count"' not in html
    make_generation(alice, status="queued")
    make_generation(alice, status="calling")
    make_generation(alice, status="failed")
    html = alice_client.get("/").content.decode()
    assert ">Jobs" in html
    assert '2 jobs running">2</span>' in html


def test_jobs_page_needs_login(client, db):
    response = client.get("/jobs/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
