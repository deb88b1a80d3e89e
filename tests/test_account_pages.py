"""Account pages: log in, log out (which says so), the profile with quota and usage, and
password change; no password reset while the site sends no e-mail."""

import pytest

from gallery.models import MemberQuota
from tests.fixtures.people import PASSWORD
from tests.test_gallery_pages import make_generation, make_image

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/password_reset/",
        "/accounts/password_reset/done/",
        "/accounts/reset/MQ/set-password/",
        "/accounts/reset/done/",
    ],
)
def test_password_reset_is_not_offered(client, url):
    assert client.get(url).status_code == 404
    assert client.post(url, {"email": "alice@example.test"}).status_code == 404


def test_member_changes_their_password_in_the_site_layout(alice_client, alice):
    page = alice_client.get("/accounts/password_change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'class="topbar"' in html and "Change password" in html
    answer = alice_client.post(
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-brand-new-passphrase",
            "new_password2": "a-brand-new-passphrase",
        },
    )
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/accounts/password_change/done/"
    done = alice_client.get(answer.headers["Location"])
    assert "Password changed" in done.content.decode()
    alice.refresh_from_db()
    assert alice.check_password("a-brand-new-passphrase")


def test_password_change_needs_login(client):
    answer = client.get("/accounts/password_change/")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/accounts/login/")


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
