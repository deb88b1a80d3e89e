"""Moderation as staff do it in a browser: a reported image in the queue is hidden with a
reason (a member's open page of it is a 404 on reload), the event is in the log, and Unhide
brings it back; a suspended member's open session is sent to the login page on its next
click. The pages fit a phone without sideways scrolling."""

import pytest
from playwright.sync_api import expect

from gallery.models import Image, ModerationEvent
from gallery.services import moderation
from tests.fixtures.people import PASSWORD
from tests.images import make_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(tab, live_server, username, *, admin=False):
    tab.goto(f"{live_server.url}{'/admin/login/' if admin else '/accounts/login/'}")
    tab.get_by_label("Username").fill(username)
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Log in").click()
    tab.wait_for_url(f"{live_server.url}{'/admin/' if admin else '/'}")


def run_action(tab, row_text: str, action: str, reason: str):
    tab.locator("#result_list tr", has_text=row_text).locator("input.action-select").check()
    tab.locator("select[name=action]").select_option(label=action)
    tab.locator("button[name=index]").click()
    tab.get_by_label("Reason").fill(reason)
    tab.get_by_role("button", name=action, exact=True).click()


def no_sideways_scroll(tab) -> bool:
    return tab.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_staff_hide_a_reported_image_from_the_queue_and_unhide_it(
    page, browser, live_server, sam, alice, bob
):
    image = make_image(alice, prompt="a contested lighthouse")
    moderation.file_report(image, "infringing", "looks like my photo", reporter=bob)
    moderation.file_report(image, "infringing")

    member = browser.new_context(viewport={"width": 390, "height": 844})
    bobs = member.new_page()
    log_in(bobs, live_server, "bob")
    bobs.goto(f"{live_server.url}/images/{image.pk}/")
    assert bobs.get_by_role("heading", name="a contested lighthouse").is_visible()

    log_in(page, live_server, "sam", admin=True)
    page.get_by_role("link", name="Moderation queue").first.click()
    row = page.locator("#result_list tr", has_text="a contested lighthouse")
    assert row.locator("td.field-report_count").inner_text() == "2"
    assert "Infringing (2)" in row.inner_text()
    run_action(page, "a contested lighthouse", "Hide", "Reported as a copy of a photo")
    expect(page.get_by_text("Hide images: 1 done")).to_be_visible()
    assert (
        page.locator("#result_list").count() == 0
        or not page.locator("#result_list tr", has_text="a contested lighthouse").count()
    )
    assert Image.objects.get(pk=image.pk).is_hidden

    answer = bobs.reload()
    assert answer.status == 404

    page.goto(f"{live_server.url}/admin/gallery/moderationevent/")
    log_row = page.locator("#result_list tr", has_text="Reported as a copy of a photo")
    assert "hide" in log_row.inner_text() and "sam" in log_row.inner_text()

    page.goto(f"{live_server.url}/admin/gallery/image/?is_hidden__exact=1")
    assert page.locator("#result_list .admin-hidden").first.is_visible()
    run_action(page, "a contested lighthouse", "Unhide", "Checked: it is original work")
    expect(page.get_by_text("Unhide images: 1 done")).to_be_visible()
    assert not Image.objects.get(pk=image.pk).is_hidden
    assert list(ModerationEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "hide", "unhide",
    ]  # fmt: skip
    assert bobs.reload().status == 200
    member.close()


def test_staff_suspend_a_member_whose_open_session_goes_to_the_login_page(
    logged_in_page, browser, live_server, sam, alice
):
    staff = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = staff.new_page()
    log_in(tab, live_server, "sam", admin=True)
    tab.goto(f"{live_server.url}/admin/auth/user/")
    run_action(tab, "alice", "Suspend", "Spamming the team gallery")
    expect(tab.get_by_text("Suspend members: 1 done")).to_be_visible()
    staff.close()

    logged_in_page.get_by_role("link", name="Generate").first.click()
    logged_in_page.wait_for_url("**/accounts/login/**")
    assert logged_in_page.get_by_label("Username").is_visible()


def test_member_reports_from_the_image_page_on_a_phone(page, live_server, alice, bob):
    image = make_image(alice, prompt="a kite in a storm")
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, "bob")
    page.goto(f"{live_server.url}/images/{image.pk}/")
    page.get_by_text("Report", exact=True).click()
    page.get_by_label("Reason").select_option(label="Violent")
    page.get_by_label("Details (optional)").fill("a storm is fine, the crash is not")
    assert no_sideways_scroll(page)
    page.get_by_role("button", name="Send report").click()
    expect(page.get_by_text("staff will look at this image")).to_be_visible()
    assert image.reports.get().reason == "violent"


def test_the_moderation_pages_fit_a_phone(page, live_server, sam, alice, bob):
    image = make_image(alice, prompt="a very long prompt " * 20)
    moderation.file_report(image, "spam")
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, "sam", admin=True)
    for path in ("/admin/auth/user/usage/", f"/admin/auth/user/{alice.pk}/usage/"):
        page.goto(f"{live_server.url}{path}")
        assert page.locator("svg.usage-chart").is_visible()
        assert no_sideways_scroll(page), path
    page.goto(f"{live_server.url}/admin/gallery/image/")
    page.locator("input.action-select").first.check()
    page.locator("select[name=action]").select_option(label="Hide")
    page.locator("button[name=index]").click()
    assert page.get_by_label("Reason").is_visible()
    assert no_sideways_scroll(page)
