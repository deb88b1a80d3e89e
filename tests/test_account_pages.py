"""Account pages: log in, log out and password change; no password reset while the site
sends no e-mail."""

import pytest

from tests.fixtures.people import PASSWORD

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


def test_wrong_old_password_is_a_field_error(alice_client):
    answer = alice_client.post(
        "/accounts/password_change/",
        {"old_password": "nope", "new_password1": "x-y-z-123456", "new_password2": "x-y-z-123456"},
    )
    assert answer.status_code == 200
    assert "Your old password was entered incorrectly" in answer.content.decode()


def test_password_change_needs_login(client):
    answer = client.get("/accounts/password_change/")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/accounts/login/")
