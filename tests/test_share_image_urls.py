"""Images on public pages come from presigned URLs that live SHARE_URL_LIFETIME seconds, so a
revoked, expired or hidden link's URLs stop within it (against real SeaweedFS); the checked
views (preview, download, lightbox) stop at once."""

import html
import io
import re
import time
from datetime import timedelta

import pytest
import requests
from django.test import Client
from django.utils import timezone
from PIL import Image as PillowImage

from gallery.models import ShareLink
from gallery.services import sharing
from tests.share_helpers import collection_of, fresh_counters, share, stored_image_of

pytestmark = pytest.mark.django_db

LIFETIME = 4  # seconds: signed per one-second window, so each URL lives 3 to 4 s


@pytest.fixture(autouse=True)
def _short_lifetime(settings, redis_url, s3_server):
    fresh_counters()
    settings.SHARE_URL_LIFETIME = LIFETIME


def image_urls(body: str) -> list[str]:
    return [html.unescape(url) for url in re.findall(r'<img src="(http[^"]+)"', body)]


def stops_within(url: str, seconds: float) -> float:
    """Seconds until the URL stops loading; fails if it still loads after `seconds`."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if requests.get(url, timeout=5).status_code == 403:
            return time.monotonic() - start
        time.sleep(0.25)
    pytest.fail(f"{url} still loads after {seconds} s")


@pytest.mark.parametrize("how", ["revoke", "expire", "hide", "delete", "suspend"])
def test_after_the_link_ends_its_page_is_gone_at_once_and_its_urls_within_the_lifetime(alice, how):
    image = stored_image_of(alice)
    link, token = share(alice, image=image, allow_download=True)
    visitor = Client()
    urls = image_urls(visitor.get(f"/s/{token}/").content.decode())
    download = visitor.get(f"/s/{token}/download/{image.sha256}/")["Location"]
    urls.append(download)
    assert urls and all(requests.get(url, timeout=5).status_code == 200 for url in urls)
    assert "X-Amz-Expires=4" in urls[0]
    if how == "revoke":
        sharing.revoke_link(user=alice, link=link)
    elif how == "expire":
        ShareLink.objects.filter(pk=link.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    elif how == "hide":
        image.is_hidden = True
        image.save()
    elif how == "delete":
        image.delete()
    else:
        alice.is_active = False
        alice.save()
    for path in ("", "preview.jpg", f"download/{image.sha256}/", f"i/{image.sha256}/"):
        assert visitor.get(f"/s/{token}/{path}").status_code == 404, path
    for url in urls:
        stops_within(url, LIFETIME + 1.5)


def test_a_page_served_before_a_long_life_still_loads_while_the_link_lives(alice, settings):
    settings.SHARE_URL_LIFETIME = 300
    image = stored_image_of(alice)
    _, token = share(alice, image=image)
    url = image_urls(Client().get(f"/s/{token}/").content.decode())[0]
    assert requests.get(url, timeout=5).content[:2] == b"\xff\xd8"  # the JPEG original
    assert "X-Amz-Expires=300" in url


def test_the_preview_is_a_jpeg_of_the_thumbnail_checked_on_each_request(alice):
    image = stored_image_of(alice, size=(80, 40))
    link, token = share(alice, collection=collection_of(alice, [image]))
    response = Client(HTTP_USER_AGENT="Twitterbot/1.0").get(f"/s/{token}/preview.jpg")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    with PillowImage.open(io.BytesIO(response.content)) as picture:
        assert (picture.format, picture.size) == ("JPEG", (80, 40))
    sharing.revoke_link(user=alice, link=link)
    assert Client().get(f"/s/{token}/preview.jpg").status_code == 404


def test_a_collection_pages_urls_stop_after_a_revoke(alice):
    images = [stored_image_of(alice, colour=(n * 40, 10, 10)) for n in range(3)]
    link, token = share(alice, collection=collection_of(alice, images), allow_download=True)
    visitor = Client()
    urls = image_urls(visitor.get(f"/s/{token}/").content.decode())
    urls += image_urls(visitor.get(f"/s/{token}/i/{images[0].sha256}/").content.decode())
    assert len(urls) == 4
    assert all(requests.get(url, timeout=5).status_code == 200 for url in urls)
    sharing.revoke_link(user=alice, link=link)
    assert visitor.get(f"/s/{token}/i/{images[1].sha256}/").status_code == 404
    for url in urls:
        stops_within(url, LIFETIME + 1.5)


def test_a_preview_whose_thumbnail_is_gone_is_the_neutral_404(alice):
    from gallery.storage import delete_object

    image = stored_image_of(alice)
    _, token = share(alice, image=image)
    delete_object(image.thumbnail_key)
    assert Client().get(f"/s/{token}/preview.jpg").status_code == 404
