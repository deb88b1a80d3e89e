"""/explore/: off unless GALLERY_EXPLORE_ENABLED; then public images of active members who
opted in, paged by an opaque cursor, with a lightbox and Report, and nothing else."""

import re

import pytest
from django.test import Client

from gallery.models import MemberProfile, Report
from tests.share_helpers import fresh_counters, image_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_redis(redis_url, settings):
    fresh_counters()
    settings.GALLERY_EXPLORE_ENABLED = True


def opted_in(user):
    MemberProfile.objects.create(user=user, show_on_explore=True)
    return user


def test_explore_is_404_when_the_setting_is_off(alice, settings):
    settings.GALLERY_EXPLORE_ENABLED = False
    image = image_of(opted_in(alice), visibility="public")
    assert Client().get("/explore/").status_code == 404
    assert Client().get(f"/explore/i/{image.sha256}/").status_code == 404
    assert (
        Client().post("/explore/report/", {"image": image.sha256, "reason": "spam"}).status_code
        == 404
    )


def test_off_is_the_default():
    from config import settings as config

    assert config.GALLERY_EXPLORE_ENABLED is False


def test_only_public_images_of_active_members_who_opted_in(alice, bob, sam):
    opted_in(alice)
    shown = image_of(alice, visibility="public")
    team = image_of(alice, visibility="team")
    hidden = image_of(alice, visibility="public", is_hidden=True)
    not_opted = image_of(bob, visibility="public")
    suspended_owner = image_of(opted_in(sam), visibility="public")
    sam.is_active = False
    sam.save()
    response = Client().get("/explore/")
    body = response.content.decode()
    assert response.status_code == 200 and response["Referrer-Policy"] == "no-referrer"
    assert shown.sha256 in body
    for image in (team, hidden, not_opted, suspended_owner):
        assert image.sha256 not in body
    assert "alice" not in body and f"/images/{shown.pk}/" not in body


def test_explore_pages_by_cursor_through_every_image(alice, monkeypatch):
    from gallery.views import share as share_views

    monkeypatch.setattr(share_views, "PUBLIC_PAGE_SIZE", 2)
    images = [image_of(opted_in(alice) if not n else alice, visibility="public") for n in range(5)]
    seen, body = [], Client().get("/explore/").content.decode()
    while True:
        seen += [image.sha256 for image in images if image.sha256 in body]
        match = re.search(r'hx-get="\?after=([^"]+)"', body)
        if not match:
            break
        body = Client().get(f"/explore/?after={match.group(1)}").content.decode()
    assert sorted(seen) == sorted(image.sha256 for image in images) and len(seen) == 5


@pytest.mark.parametrize("after", ["x", "1.zz", ""])
def test_a_bad_explore_cursor_is_404(after):
    assert Client().get("/explore/", {"after": after}).status_code == 404


def test_the_lightbox_and_report_only_for_images_on_explore(alice, bob):
    shown = image_of(opted_in(alice), visibility="public", prompt="a lantern")
    elsewhere = image_of(bob, visibility="public")
    body = Client().get(f"/explore/i/{shown.sha256}/").content.decode()
    assert "a lantern" in body and "Report" in body
    assert Client().get(f"/explore/i/{elsewhere.sha256}/").status_code == 404
    ok = Client().post("/explore/report/", {"image": shown.sha256, "reason": "hateful"})
    refused = Client().post("/explore/report/", {"image": elsewhere.sha256, "reason": "spam"})
    assert ok.status_code == 200 and refused.status_code == 400
    report = Report.objects.get()
    assert (report.image, report.reason, report.share_link) == (shown, "hateful", None)
