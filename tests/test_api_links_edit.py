"""Editing a share link and undoing its revoke through the JSON API (PATCH /api/links/{id},
POST /api/links/{id}/restore): the same rules as the My links pages, the API's error shape,
and a public page at /s/<token>/ that behaves as edited. No answer holds the token or the
password."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gallery.models import ShareLink
from gallery.services import api_tokens, sharing
from tests.share_helpers import fresh_counters, image_of, share
from tests.test_api_json import assert_api_error

pytestmark = pytest.mark.django_db

HUGE = 2**63  # past any id the database can hold
PASSWORD = "open-sesame"


@pytest.fixture(autouse=True)
def _redis(redis_url):
    """The per-token rate limit and the share page's view counter live in Redis."""
    fresh_counters()


@pytest.fixture
def shared(alice):
    """alice's link to her image: no password, no download, labelled, expiring in a week."""
    link, token = share(
        alice, image=image_of(alice, prompt="a kite"), label="For Ada",
        expires_at=timezone.now() + timedelta(days=7),
    )  # fmt: skip
    return link, token


def patch(client, link_id, body, **kwargs):
    return client.patch(
        f"/api/links/{link_id}", data=json.dumps(body), content_type="application/json", **kwargs
    )


def assert_no_secrets(response, token: str) -> None:
    assert token not in response.content.decode()
    assert PASSWORD not in response.content.decode()
    assert "password_hash" not in response.content.decode()


def stored(link) -> ShareLink:
    return ShareLink.objects.get(pk=link.pk)


# --- Editing ----------------------------------------------------------------------


def test_patch_changes_what_is_given_and_keeps_the_rest(api, shared):
    link, token = shared
    response = patch(api, link.pk, {"label": "  For Bea ", "allow_download": True})
    assert response.status_code == 200, response.content
    answer = response.json()
    assert (answer["label"], answer["allow_download"], answer["show_prompt"]) == (
        "For Bea", True, True,
    )  # fmt: skip
    assert "url" not in answer and answer["has_password"] is False
    after = stored(link)
    assert (after.label, after.allow_download, after.expires_at) == (
        "For Bea", True, link.expires_at,
    )  # fmt: skip
    assert_no_secrets(response, token)


def test_a_null_label_or_choice_stays_and_an_empty_label_clears_it(api, shared):
    link, _token = shared
    answer = patch(api, link.pk, {"label": None, "show_prompt": None}).json()
    assert (answer["label"], answer["show_prompt"]) == ("For Ada", True)
    assert patch(api, link.pk, {"label": ""}).json()["label"] == ""
    assert stored(link).label == ""


def test_expiry_moves_or_goes_with_null(api, shared):
    link, _token = shared
    later = timezone.now() + timedelta(days=30)
    answer = patch(api, link.pk, {"expires_at": later.isoformat()}).json()
    assert stored(link).expires_at == later and answer["expires_at"] is not None
    assert patch(api, link.pk, {"expires_at": None}).json()["expires_at"] is None
    assert stored(link).expires_at is None


def test_a_password_set_through_the_api_is_asked_and_download_stays_hidden(api, shared):
    link, token = shared
    response = patch(api, link.pk, {"password": PASSWORD, "allow_download": False})
    assert response.status_code == 200 and response.json()["has_password"] is True
    assert_no_secrets(response, token)
    visitor = Client()
    asked = visitor.get(f"/s/{token}/")
    assert asked.status_code == 200 and 'name="password"' in asked.content.decode()
    assert "a kite" not in asked.content.decode()
    assert visitor.post(f"/s/{token}/", {"password": PASSWORD}).status_code == 302
    page = visitor.get(f"/s/{token}/").content.decode()
    assert "a kite" in page and f"/s/{token}/download/" not in page
    image = link.image
    assert visitor.get(f"/s/{token}/download/{image.sha256}/").status_code == 404


def test_download_allowed_through_the_api_shows_on_the_page(api, shared):
    link, token = shared
    assert patch(api, link.pk, {"allow_download": True}).status_code == 200
    page = Client().get(f"/s/{token}/").content.decode()
    assert f"/s/{token}/download/{link.image.sha256}/" in page


def test_a_new_password_locks_out_browsers_that_gave_the_old_one(api, alice):
    link, token = share(alice, image=image_of(alice, prompt="a kite"), password=PASSWORD)
    visitor = Client()
    visitor.post(f"/s/{token}/", {"password": PASSWORD})
    assert "a kite" in visitor.get(f"/s/{token}/").content.decode()
    assert patch(api, link.pk, {"password": "another-one"}).status_code == 200
    assert 'name="password"' in visitor.get(f"/s/{token}/").content.decode()


def test_null_removes_the_password_and_the_page_opens(api, alice):
    link, token = share(alice, image=image_of(alice, prompt="a kite"), password=PASSWORD)
    response = patch(api, link.pk, {"password": None})
    assert response.status_code == 200 and response.json()["has_password"] is False
    assert stored(link).password_hash == ""
    assert "a kite" in Client().get(f"/s/{token}/").content.decode()


def test_an_absent_password_stays(api, alice):
    link, _token = share(alice, image=image_of(alice), password=PASSWORD)
    assert patch(api, link.pk, {"label": "x"}).json()["has_password"] is True
    assert sharing.check_link_password(stored(link), PASSWORD)


@pytest.mark.parametrize(
    "body, field",
    [({"label": "x" * 201}, "label"), ({"label": 5}, "label"), ({"label": ["a"]}, "label"),
     ({"password": "short"}, "password"), ({"password": "x" * 129}, "password"),
     ({"password": ""}, "password"), ({"password": 123456}, "password"),
     ({"expires_at": "tomorrow"}, "expires_at"), ({"expires_at": 5}, "expires_at"),
     ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
     ({"expires_at": "2099-01-01T00:00:00"}, "expires_at"),
     ({"expires_at": "2099-01-01T00:00:00Z"}, "expires_at"),
     ({"allow_download": "perhaps"}, "allow_download"), ({"show_prompt": [True]}, "show_prompt"),
     ({"label": "ok", "password": "short"}, "password")],
)  # fmt: skip
def test_bad_fields_are_400_naming_them_and_change_nothing(api, shared, body, field):
    link, token = shared
    response = patch(api, link.pk, body)
    error = assert_api_error(response, 400, response.json()["error"]["code"], field)
    assert error["code"] in ("invalid_parameter", "expiry_past")
    assert_no_secrets(response, token)
    after = stored(link)
    assert (after.label, after.password_hash, after.expires_at, after.allow_download) == (
        "For Ada", "", link.expires_at, False,
    )  # fmt: skip


def test_a_body_that_is_not_an_object_is_400(api, shared):
    link, _token = shared
    assert_api_error(patch(api, link.pk, ["label"]), 400, "invalid_parameter", "body")
    response = api.patch(f"/api/links/{link.pk}", data="{", content_type="application/json")
    assert_api_error(response, 400, "invalid_json", "body")


def test_an_expired_link_needs_a_new_expiry_as_on_the_page(api, shared):
    link, _token = shared
    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(days=1))
    assert_api_error(patch(api, link.pk, {"label": "x"}), 400, "expiry_past", "expires_at")
    assert patch(api, link.pk, {"label": "x", "expires_at": None}).status_code == 200


@pytest.mark.parametrize("pk", ["999999", str(HUGE), "0", "-1"])
def test_an_unknown_link_is_404(api, shared, pk):
    assert_api_error(patch(api, pk, {"label": "x"}), 404, "not_found")
    assert_api_error(api.post(f"/api/links/{pk}/restore"), 404, "not_found")


def test_a_link_id_that_is_no_number_is_400(api, shared):
    assert_api_error(patch(api, "abc", {"label": "x"}), 400, "invalid_parameter", "link_id")
    assert_api_error(api.post("/api/links/abc/restore"), 400, "invalid_parameter", "link_id")


def test_anothers_link_is_404_and_unchanged(api, bob):
    link, _token = share(bob, image=image_of(bob))
    sharing.revoke_link(user=bob, link=link)
    assert_api_error(patch(api, link.pk, {"label": "mine now"}), 404, "not_found")
    assert_api_error(api.post(f"/api/links/{link.pk}/restore"), 404, "not_found")
    after = stored(link)
    assert (after.label, after.revoked_at) == ("", link.revoked_at)
    assert after.revoked_at is not None


def test_staff_may_edit_and_restore_every_members_link(client, sam, bob):
    link, _token = share(bob, image=image_of(bob))
    sharing.revoke_link(user=bob, link=link)
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {api_tokens.create(user=sam, name='s')[1]}"
    assert patch(client, link.pk, {"label": "checked"}).json()["label"] == "checked"
    assert client.post(f"/api/links/{link.pk}/restore").json()["revoked_at"] is None


def test_editing_needs_a_token_or_session(client, shared):
    link, _token = shared
    assert_api_error(patch(client, link.pk, {"label": "x"}), 401, "not_authenticated")
    assert_api_error(client.post(f"/api/links/{link.pk}/restore"), 401, "not_authenticated")


def test_a_session_edits_and_restores_with_csrf_and_not_without(alice, shared):
    link, token = shared
    sharing.revoke_link(user=alice, link=link)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    browser.get("/")  # a page sets the CSRF cookie the browser then sends back
    csrf = {"X-CSRFToken": browser.cookies["csrftoken"].value}
    assert_api_error(patch(browser, link.pk, {"label": "x"}), 403, "csrf_failed")
    assert_api_error(browser.post(f"/api/links/{link.pk}/restore"), 403, "csrf_failed")
    assert (stored(link).label, stored(link).revoked_at) == ("For Ada", link.revoked_at)
    response = patch(browser, link.pk, {"password": PASSWORD}, headers=csrf)
    assert response.status_code == 200, response.content
    assert_no_secrets(response, token)
    restored = browser.post(f"/api/links/{link.pk}/restore", headers=csrf)
    assert restored.status_code == 200 and restored.json()["revoked_at"] is None


# --- Undoing a revoke -------------------------------------------------------------


def test_restore_after_revoke_opens_the_link_again(api, shared):
    link, token = shared
    revoked = api.delete(f"/api/links/{link.pk}")
    assert revoked.json()["revoked_at"] is not None
    assert Client().get(f"/s/{token}/").status_code == 404
    response = api.post(f"/api/links/{link.pk}/restore")
    assert response.status_code == 200, response.content
    assert response.json()["revoked_at"] is None and stored(link).revoked_at is None
    assert_no_secrets(response, token)
    assert "a kite" in Client().get(f"/s/{token}/").content.decode()


def test_restore_past_the_undo_window_is_409_and_it_stays_revoked(api, shared, settings):
    link, token = shared
    api.delete(f"/api/links/{link.pk}")
    long_ago = timezone.now() - timedelta(seconds=settings.SHARE_UNDO_SECONDS + 1)
    ShareLink.objects.filter(pk=link.pk).update(revoked_at=long_ago)
    assert_api_error(api.post(f"/api/links/{link.pk}/restore"), 409, "undo_too_late")
    assert stored(link).revoked_at == long_ago
    assert Client().get(f"/s/{token}/").status_code == 404


def test_restoring_a_live_link_answers_it_unchanged(api, shared):
    link, _token = shared
    response = api.post(f"/api/links/{link.pk}/restore")
    assert response.status_code == 200 and response.json()["revoked_at"] is None
    assert stored(link).updated_at == link.updated_at


def test_restore_takes_no_body(api, shared):
    link, _token = shared
    api.delete(f"/api/links/{link.pk}")
    response = api.post(
        f"/api/links/{link.pk}/restore", data=json.dumps({"anything": 1}),
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 200 and response.json()["revoked_at"] is None
