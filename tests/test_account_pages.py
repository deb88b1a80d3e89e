"""A member's own account: logging out says so, the profile shows quota and usage, and the
password can be changed there."""

import pytest

from gallery.models import MemberQuota
from tests.fixtures.people import PASSWORD
from tests.test_gallery_pages import make_generation, make_image

pytestmark = pytest.mark.django_db


def test_logging_out_says_so(alice_client):
    response = alice_client.post("/accounts/logout/", follow=True)
    html = response.content.decode()
    assert response.redirect_chain[-1][0].startswith("/accounts/login/")
    assert "You have logged out." in html
    assert alice_client.get("/").status_code == 302  # really logged out


def test_profile_shows_quota_and_usage(alice_client, alice):
    MemberQuota.objects.create(user=alice, daily_image_limit=10)
    make_generation(alice)
    make_generation(alice, status="canceled")
    make_image(alice, 3)
    html = alice_client.get("/profile/").content.decode()
    assert "<dt>Daily image limit</dt><dd>10</dd>" in html
    assert "<dt>Used today</dt><dd>2</dd>" in html  # the canceled one does not count
    assert "<dt>Left today</dt><dd>8</dd>" in html
    assert "<dt>Your images</dt><dd>1</dd>" in html
    assert 'href="/accounts/password_change/"' in html


def test_the_navigation_links_to_the_profile(alice_client):
    assert 'href="/profile/"' in alice_client.get("/").content.decode()


def test_password_change_in_the_sites_layout(alice_client, alice):
    page = alice_client.get("/accounts/password_change/").content.decode()
    assert 'class="topbar"' in page and "Change your password" in page
    response = alice_client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": "a-new-long-pass-42", "new_password2": "a-new-long-pass-42"},
        follow=True,
    )  # fmt: skip
    assert "Password changed" in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password("a-new-long-pass-42")


def test_password_change_refuses_a_wrong_old_password(alice_client, alice):
    response = alice_client.post(
        "/accounts/password_change/",
        {"old_password": "wrong", "new_password1": "a-new-long-pass-42", "new_password2": "a-new-long-pass-42"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_profile_needs_login(client, db):
    assert client.get("/profile/").status_code == 302
