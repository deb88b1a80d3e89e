"""Rate limits per client address on public pages, password attempts and reports (a friendly
429), and the visitor's Report form."""

import pytest
from django.test import Client

from gallery.models import Report
from gallery.services import sharing
from tests.share_helpers import collection_of, fresh_counters, image_of, share, without_noise

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_redis(redis_url):
    fresh_counters()


def test_page_views_over_the_limit_get_the_friendly_429(alice, settings):
    settings.SHARE_VIEW_RATE = "3/m"
    _, token = share(alice, image=image_of(alice))
    visitor = Client(REMOTE_ADDR="10.1.1.1")
    assert [visitor.get(f"/s/{token}/").status_code for _ in range(4)] == [200, 200, 200, 429]
    limited = visitor.get(f"/s/{token}/")
    assert "Slow down" in limited.content.decode() and limited["Retry-After"] == "60"
    assert Client(REMOTE_ADDR="10.1.1.2").get(f"/s/{token}/").status_code == 200


def test_the_limit_follows_the_address_the_trusted_proxy_saw(alice, settings):
    settings.SHARE_VIEW_RATE = "1/m"
    settings.TRUSTED_PROXY_HOPS = 1
    _, token = share(alice, image=image_of(alice))
    proxy = Client(REMOTE_ADDR="127.0.0.1")
    assert proxy.get(f"/s/{token}/", HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 200
    assert proxy.get(f"/s/{token}/", HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 429
    assert proxy.get(f"/s/{token}/", HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 200


def test_password_guessing_stops_at_the_limit_alike_for_every_token(alice, settings):
    settings.SHARE_PASSWORD_RATE = "3/m"
    _, token = share(alice, image=image_of(alice), password="open-sesame")
    guesser = Client(REMOTE_ADDR="10.2.2.2")
    for _ in range(3):
        assert guesser.post(f"/s/{token}/", {"password": "guess"}).status_code == 400
    after_limit = guesser.post(f"/s/{token}/", {"password": "open-sesame"})
    assert after_limit.status_code == 429  # even the right password: no oracle past the limit
    unknown = guesser.post(f"/s/{sharing.new_token()}/", {"password": "open-sesame"})
    assert unknown.status_code == 429
    assert without_noise(after_limit.content) == without_noise(unknown.content)
    assert "a kite" not in guesser.get(f"/s/{token}/").content.decode()


def test_a_visitor_reports_an_image_on_the_page(alice):
    image = image_of(alice)
    link, token = share(alice, image=image)
    answer = Client().post(
        f"/s/{token}/report/", {"image": image.sha256, "reason": "spam", "details": "ads"}
    )
    assert answer.status_code == 200 and "Thank you" in answer.content.decode()
    report = Report.objects.get()
    assert (report.image, report.reason, report.details, report.share_link, report.reporter) == (
        image, "spam", "ads", link, None
    )  # fmt: skip


@pytest.mark.parametrize(
    "data",
    [
        {"reason": "boring"},
        {"reason": ""},
        {"reason": "spam", "details": "x" * 2001},
        {"reason": "spam", "image": "not-a-hash"},
        {"reason": "spam", "image": ""},
    ],
)
def test_bad_reports_are_refused_and_nothing_is_filed(alice, data):
    image = image_of(alice)
    _, token = share(alice, image=image)
    answer = Client().post(f"/s/{token}/report/", {"image": image.sha256, **data})
    assert answer.status_code == 400
    assert "not sent" in answer.content.decode()
    assert not Report.objects.exists()


def test_a_report_on_an_image_not_on_that_page_is_refused(alice):
    shared, elsewhere = image_of(alice), image_of(alice)
    _, token = share(alice, collection=collection_of(alice, [shared]))
    answer = Client().post(f"/s/{token}/report/", {"image": elsewhere.sha256, "reason": "spam"})
    assert answer.status_code == 400 and "not on this page" in answer.content.decode()
    assert not Report.objects.exists()


def test_a_report_through_a_dead_link_is_the_neutral_404(alice):
    image = image_of(alice)
    link, token = share(alice, image=image)
    sharing.revoke_link(user=alice, link=link)
    answer = Client().post(f"/s/{token}/report/", {"image": image.sha256, "reason": "spam"})
    assert answer.status_code == 404 and not Report.objects.exists()


def test_reports_are_rate_limited_per_address(alice, settings):
    settings.SHARE_REPORT_RATE = "2/h"
    image = image_of(alice)
    _, token = share(alice, image=image)
    reporter = Client(REMOTE_ADDR="10.3.3.3")
    codes = [
        reporter.post(f"/s/{token}/report/", {"image": image.sha256, "reason": "spam"}).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    assert Report.objects.count() == 2


def test_the_limit_cache_counts_in_the_redis_redis_url_names_now(settings, redis_url):
    from django.core.cache import caches

    cache = caches["ratelimit"]
    cache.set("probe", 1)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    with pytest.raises(Exception, match="Connect|connect"):
        cache.get("probe")
    settings.REDIS_URL = redis_url
    assert cache.get("probe") == 1
