"""Views of a share link are counted in Redis, not written per view, and flushed to the row
by the periodic task; a visitor counts once per half hour, an unfurl bot once a day."""

import pytest
from django.conf import settings
from django.test import Client

from gallery.models import ShareLink
from gallery.tasks import flush_share_views
from tests.share_helpers import fresh_counters, image_of, share, stored_image_of

pytestmark = pytest.mark.django_db

SLACK = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.fixture(autouse=True)
def _clean_redis(redis_url):
    fresh_counters()


def test_a_view_writes_nothing_to_the_database_until_the_flush(alice, django_assert_num_queries):
    link, token = share(alice, image=image_of(alice))
    Client(HTTP_USER_AGENT=FIREFOX).get(f"/s/{token}/")
    Client(HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="10.0.0.9").get(f"/s/{token}/")
    link.refresh_from_db()
    assert link.view_count == 0
    # The link (with owner and image), whether its owner still sees the image, the image:
    # reads only, no UPDATE of the row.
    with django_assert_num_queries(3):
        Client(HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="10.0.0.10").get(f"/s/{token}/")
    assert flush_share_views() == 1
    link.refresh_from_db()
    assert link.view_count == 3 and link.last_viewed_at is not None
    assert flush_share_views() == 0  # the counters were taken


def test_a_reload_by_the_same_visitor_counts_once(alice):
    link, token = share(alice, image=image_of(alice))
    for _ in range(3):
        Client(HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="10.0.0.1").get(f"/s/{token}/")
    Client(HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="10.0.0.2").get(f"/s/{token}/")
    flush_share_views()
    link.refresh_from_db()
    assert link.view_count == 2


def test_an_unfurl_bot_counts_once_whatever_address_it_comes_from(alice, s3_server):
    link, token = share(alice, image=stored_image_of(alice))
    for n in range(4):
        bot = Client(HTTP_USER_AGENT=SLACK, REMOTE_ADDR=f"10.9.0.{n}")
        assert bot.get(f"/s/{token}/").status_code == 200
        assert bot.get(f"/s/{token}/preview.jpg").status_code == 200
    flush_share_views()
    link.refresh_from_db()
    assert link.view_count == 1


def test_the_sharer_viewing_their_own_link_is_not_counted(alice, alice_client):
    link, token = share(alice, image=image_of(alice))
    alice_client.get(f"/s/{token}/")
    flush_share_views()
    link.refresh_from_db()
    assert link.view_count == 0


def test_my_links_shows_views_not_yet_flushed(alice, alice_client):
    link, token = share(alice, image=image_of(alice), label="Counted")
    Client(HTTP_USER_AGENT=FIREFOX).get(f"/s/{token}/")
    page = alice_client.get("/links/").content.decode()
    assert '<td data-label="Views">1</td>' in page


def test_a_failed_flush_puts_the_counts_back(alice, monkeypatch):
    from gallery.services import sharing

    link, token = share(alice, image=image_of(alice))
    Client(HTTP_USER_AGENT=FIREFOX).get(f"/s/{token}/")

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(sharing.ShareLink.objects, "filter", broken)
    with pytest.raises(RuntimeError):
        sharing.flush_view_counts()
    monkeypatch.undo()
    assert sharing.flush_view_counts() == 1
    link.refresh_from_db()
    assert link.view_count == 1


def test_the_flush_runs_on_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["flush-share-views"]
    assert entry["task"] == "gallery.flush_share_views" and entry["schedule"] <= 300


def test_bot_names_come_from_the_setting(settings):
    from gallery.services.sharing import is_unfurl_bot

    assert is_unfurl_bot(SLACK) == "slackbot"
    assert is_unfurl_bot("facebookexternalhit/1.1") == "facebookexternalhit"
    assert is_unfurl_bot(FIREFOX) is None
    settings.SHARE_BOT_AGENTS = ["Firefox"]
    assert is_unfurl_bot(FIREFOX) == "firefox"


def test_share_link_rows_are_untouched_by_views(alice):
    link, token = share(alice, image=image_of(alice))
    before = ShareLink.objects.get(pk=link.pk).updated_at
    Client(HTTP_USER_AGENT=FIREFOX).get(f"/s/{token}/")
    assert ShareLink.objects.get(pk=link.pk).updated_at == before
