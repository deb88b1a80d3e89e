"""The public page /s/<token>/: what a visitor sees and does not, the password, the one
neutral 404 for every failure, and the headers that keep the token to itself."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gallery.models import ShareLink
from gallery.services import sharing
from tests.share_helpers import collection_of, fresh_counters, image_of, share, without_noise

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_redis(redis_url):
    fresh_counters()


@pytest.fixture
def visitor():
    return Client()


def test_image_page_shows_the_image_and_its_prompt_and_nothing_private(alice, visitor):
    image = image_of(alice, prompt="a porcelain fox in morning fog", seed=4242)
    _, token = share(alice, image=image, label="For Ada")
    response = visitor.get(f"/s/{token}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "a porcelain fox in morning fog" in body and "4242" in body
    assert image.original_key in body  # the presigned original
    assert "alice" not in body  # no author name or e-mail
    assert f"/images/{image.pk}/" not in body and 'href="/"' not in body  # no way in
    assert "Download" not in body  # download is off by default
    assert re.search(r"<summary>\s*Report\s*</summary>", body)


def test_hidden_prompt_and_seed_stay_hidden(alice, visitor):
    image = image_of(alice, prompt="secret recipe prompt", seed=987654)
    _, token = share(alice, image=image, show_prompt=False)
    body = visitor.get(f"/s/{token}/").content.decode()
    assert "secret recipe prompt" not in body and "987654" not in body


def test_download_button_follows_the_setting_and_leads_to_a_saving_url(alice, visitor):
    image = image_of(alice)
    link, token = share(alice, image=image, allow_download=True)
    body = visitor.get(f"/s/{token}/").content.decode()
    download = f"/s/{token}/download/{image.sha256}/"
    assert download in body
    answer = visitor.get(download)
    assert answer.status_code == 302
    assert "response-content-disposition=attachment" in answer["Location"]
    assert "X-Amz-Expires=300" in answer["Location"]
    link.allow_download = False
    link.save()
    assert visitor.get(download).status_code == 404


def test_open_graph_and_twitter_tags_use_the_label_and_a_checked_preview(alice, visitor):
    _, token = share(alice, image=image_of(alice, prompt="a kite"), label="Client pick")
    body = visitor.get(f"/s/{token}/").content.decode()
    assert '<meta property="og:title" content="Client pick">' in body
    assert f'<meta property="og:image" content="http://testserver/s/{token}/preview.jpg">' in body
    assert '<meta name="twitter:card" content="summary_large_image">' in body


def test_a_password_link_shows_no_picture_or_title_to_unfurlers(alice, visitor):
    _, token = share(
        alice, image=image_of(alice, prompt="a kite"), label="Secret", password="pw-123456"
    )
    body = visitor.get(f"/s/{token}/").content.decode()
    assert "og:image" not in body and "Secret" not in body and "a kite" not in body
    assert visitor.get(f"/s/{token}/preview.jpg").status_code == 404


def test_public_pages_send_no_referrer_and_are_never_cached(alice, visitor):
    _, token = share(alice, image=image_of(alice))
    for response in (visitor.get(f"/s/{token}/"), visitor.get("/s/" + "x" * 32 + "/")):
        assert response["Referrer-Policy"] == "no-referrer"
        assert "no-store" in response["Cache-Control"]
        assert response["X-Robots-Tag"] == "noindex, nofollow"


def test_password_unlocks_for_this_browser_session_only(alice, visitor):
    _, token = share(alice, image=image_of(alice, prompt="a kite"), password="open-sesame")
    asked = visitor.get(f"/s/{token}/")
    assert asked.status_code == 200 and "a kite" not in asked.content.decode()
    assert 'name="password"' in asked.content.decode()
    wrong = visitor.post(f"/s/{token}/", {"password": "open sesame"})
    assert wrong.status_code == 400 and "That is not the password" in wrong.content.decode()
    right = visitor.post(f"/s/{token}/", {"password": "open-sesame"})
    assert right.status_code == 302 and right["Location"] == f"/s/{token}/"
    assert "a kite" in visitor.get(f"/s/{token}/").content.decode()
    assert visitor.cookies["sessionid"]["expires"] == ""  # a browser-session cookie
    assert "a kite" not in Client().get(f"/s/{token}/").content.decode()


@pytest.mark.parametrize("password", ["", "x" * 129, "\x00"])
def test_odd_passwords_are_just_wrong(alice, visitor, password):
    _, token = share(alice, image=image_of(alice), password="open-sesame")
    assert visitor.post(f"/s/{token}/", {"password": password}).status_code == 400


def test_a_password_post_to_a_link_without_one_just_shows_it(alice, visitor):
    _, token = share(alice, image=image_of(alice))
    assert visitor.post(f"/s/{token}/", {"password": "x"}).status_code == 302


def _failures(alice, bob):
    """A token for each way a link fails, plus an unknown one."""
    tokens = {"unknown": sharing.new_token()}
    link, tokens["expired"] = share(alice, image=image_of(alice))
    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(days=1))
    link, tokens["revoked"] = share(alice, image=image_of(alice))
    sharing.revoke_link(user=alice, link=link)
    image = image_of(alice)
    _, tokens["hidden"] = share(alice, image=image)
    image.is_hidden = True
    image.save()
    image = image_of(alice)
    _, tokens["deleted"] = share(alice, image=image)
    image.delete()
    image = image_of(alice)
    _, tokens["made private"] = share(bob, image=image)
    image.visibility = "private"
    image.save()
    _, tokens["owner suspended"] = share(bob, image=image_of(bob))
    bob.is_active = False
    bob.save()
    return tokens


def test_every_failure_answers_the_same_neutral_404(alice, bob, visitor):
    tokens = _failures(alice, bob)
    bodies = {}
    for reason, token in tokens.items():
        response = visitor.get(f"/s/{token}/")
        assert response.status_code == 404, reason
        bodies[reason] = without_noise(response.content)
        for path in (f"/s/{token}/preview.jpg", f"/s/{token}/i/{'a' * 64}/"):
            assert without_noise(visitor.get(path).content) == bodies[reason], (reason, path)
    assert len(set(bodies.values())) == 1, "a failure reason shows through the page"
    body = next(iter(bodies.values())).decode()
    assert "expired" in body  # the page lists the possible causes without saying which
    for token in tokens.values():
        assert token not in body


def test_the_hash_is_compared_in_constant_time_on_hit_and_miss(alice, monkeypatch):
    _, token = share(alice, image=image_of(alice))
    compared = []
    real = sharing.hmac.compare_digest
    monkeypatch.setattr(
        sharing.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b)
    )
    sharing.resolve(token)
    sharing.resolve(sharing.new_token())
    assert len(compared) == 2
    assert all(len(a) == len(b) == 64 for a, b in compared)


def test_a_collection_link_shows_only_what_its_sharer_sees_now(alice, bob, visitor):
    kept, later_private, later_deleted, hidden = (image_of(alice) for _ in range(4))
    hidden.is_hidden = True
    hidden.save()
    collection = collection_of(alice, [kept, later_private, later_deleted, hidden])
    _, token = share(bob, collection=collection, label="Trip")
    body = visitor.get(f"/s/{token}/").content.decode()
    for image in (kept, later_private, later_deleted):
        assert image.sha256 in body
    assert hidden.sha256 not in body
    later_private.visibility = "private"
    later_private.save()
    later_deleted.delete()
    body = visitor.get(f"/s/{token}/").content.decode()
    assert kept.sha256 in body
    assert later_private.sha256 not in body and later_deleted.sha256 not in body
    assert visitor.get(f"/s/{token}/i/{later_private.sha256}/").status_code == 404
    assert visitor.get(f"/s/{token}/i/{kept.sha256}/").status_code == 200


def test_a_collection_is_paged_by_an_opaque_cursor(alice, visitor, monkeypatch):
    from gallery.views import share as share_views

    monkeypatch.setattr(share_views, "PUBLIC_PAGE_SIZE", 3)
    images = [image_of(alice) for _ in range(7)]
    _, token = share(alice, collection=collection_of(alice, images))
    seen = []
    body = visitor.get(f"/s/{token}/").content.decode()
    while True:
        seen += [image.sha256 for image in images if image.sha256 in body]
        match = re.search(r'hx-get="\?after=([^"]+)"', body)
        if not match:
            break
        assert re.fullmatch(r"\d+\.[0-9a-f]{64}", match.group(1))  # a time and a hash, no ids
        body = visitor.get(
            f"/s/{token}/?after={match.group(1)}", HTTP_HX_REQUEST="true"
        ).content.decode()
    assert seen == [image.sha256 for image in images]


@pytest.mark.parametrize("after", ["", "abc", "1.2", "9" * 30 + "." + "a" * 64, "-5." + "a" * 64])
def test_a_bad_cursor_is_the_neutral_404(alice, visitor, after):
    _, token = share(alice, collection=collection_of(alice, [image_of(alice)]))
    assert visitor.get(f"/s/{token}/", {"after": after}).status_code == 404


def test_the_lightbox_names_no_internal_ids(alice, visitor):
    image = image_of(alice, prompt="a kite")
    _, token = share(alice, collection=collection_of(alice, [image]), allow_download=True)
    body = visitor.get(f"/s/{token}/i/{image.sha256}/").content.decode()
    assert "a kite" in body and f"/s/{token}/download/{image.sha256}/" in body
    assert f'data-id="{image.pk}"' not in body and f"/images/{image.pk}" not in body


def test_an_image_link_does_not_open_other_images(alice, visitor):
    shared, other = image_of(alice), image_of(alice)
    _, token = share(alice, image=shared, allow_download=True)
    assert visitor.get(f"/s/{token}/i/{other.sha256}/").status_code == 404
    assert visitor.get(f"/s/{token}/download/{other.sha256}/").status_code == 404
