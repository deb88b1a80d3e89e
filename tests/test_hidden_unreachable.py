"""A hidden image is unreachable to members in every path the gallery has (grid, search,
detail, lightbox, download, favourite, vary, report, the JSON API), and its former presigned
URLs stop at the end of their lifetime; staff still reach it in the admin."""

import time

import pytest
import requests

from gallery import storage
from gallery.services import moderation
from tests.images import make_image

pytestmark = pytest.mark.django_db


def test_every_member_path_is_a_404_once_hidden(client, sam, alice, bob, redis_url):
    image = make_image(alice, prompt="a quiet zebra crossing")
    client.force_login(bob)
    assert client.get(f"/images/{image.pk}/").status_code == 200
    moderation.hide(actor=sam, images=[image], reason="test")

    for url in ("/", "/?q=zebra", "/?view=flat"):
        html = client.get(url).content.decode()
        assert f"/images/{image.pk}/" not in html and image.thumbnail_key not in html, url
    for url in (f"/images/{image.pk}/", f"/images/{image.pk}/lightbox/",
                f"/images/{image.pk}/download/", f"/api/images/{image.pk}"):  # fmt: skip
        assert client.get(url).status_code == 404, url
    for url in (f"/images/{image.pk}/favourite/", f"/images/{image.pk}/vary/",
                f"/images/{image.pk}/report/", f"/images/{image.pk}/delete/"):  # fmt: skip
        assert client.post(url, {"reason": "spam"}).status_code == 404, url
    assert all(i["id"] != image.pk for i in client.get("/api/images").json()["items"])

    client.force_login(alice)  # its author is told it is hidden, and nothing more
    assert client.get(f"/images/{image.pk}/").status_code == 403
    assert f"/images/{image.pk}/" not in client.get("/").content.decode()

    client.force_login(sam)
    assert client.get(f"/admin/gallery/image/{image.pk}/change/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_its_former_presigned_urls_stop_at_the_end_of_their_lifetime(
    s3_server, settings, sam, alice
):
    settings.AWS_QUERYSTRING_EXPIRE = 2
    storage._signed.clear()
    image = make_image(alice, key="d" * 64)
    storage.put_object(image.original_key, b"original", "image/jpeg")
    handed_out = image.original_url
    assert requests.get(handed_out, timeout=10).status_code == 200
    moderation.hide(actor=sam, images=[image], reason="test")
    time.sleep(3.5)
    assert requests.get(handed_out, timeout=10).status_code == 403
