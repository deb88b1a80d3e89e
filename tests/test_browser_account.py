"""In Chromium: repeated wrong passwords end on a page that says what happened, and a member
changes their password from the site's own pages."""

import pytest

from tests.fixtures.people import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_too_many_wrong_passwords_show_the_pause_page(page, live_server, alice, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("not-her-password")
        page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("heading", name="Too many failed logins").is_visible()
    assert page.get_by_text("Try again in 15 minutes.").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_member_changes_password_in_the_browser(logged_in_page, live_server, alice):
    page = logged_in_page
    page.goto(f"{live_server.url}/accounts/password_change/")
    page.get_by_label("Old password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("a-brand-new-passphrase")
    page.get_by_label("New password confirmation").fill("a-brand-new-passphrase")
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url(f"{live_server.url}/accounts/password_change/done/")
    assert page.get_by_role("heading", name="Password changed").is_visible()
    alice.refresh_from_db()
    assert alice.check_password("a-brand-new-passphrase")
