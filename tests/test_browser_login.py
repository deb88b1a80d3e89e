"""A member logs in through the real form in Chromium and sees the gallery."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_member_logs_in_and_sees_the_gallery(logged_in_page, live_server):
    page = logged_in_page
    assert page.get_by_role("heading", name="Gallery").is_visible()
    assert page.get_by_role("link", name="Generate", exact=True).is_visible()
    assert page.get_by_text("alice").is_visible()


def test_wrong_password_shows_an_error_and_stays_on_login(page, live_server, alice):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not-her-password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").is_visible()
    assert "/accounts/login/" in page.url


def test_logged_out_visitor_is_sent_to_login(page, live_server):
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/?next=/" in page.url
