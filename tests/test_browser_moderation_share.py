"""The issue's done-when flow across sharing and moderation, in Chromium: a visitor with no
session reports a shared image; staff see it in the moderation queue and hide it with a
reason; the visitor's reload of the share link is the neutral 404; the event is in the log;
staff unhide it and the link works again."""

import pytest
from playwright.sync_api import expect

from gallery.models import Image, ModerationEvent, Report
from tests.fixtures.people import PASSWORD
from tests.share_helpers import fresh_counters, share, stored_image_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _services(redis_url, s3_server):
    fresh_counters()


@pytest.fixture
def visitor(visitor_tab):
    """A fresh browser context on a phone: no cookies, no session."""
    return visitor_tab(390, 844)


def run_action(tab, row_text: str, action: str, reason: str):
    tab.locator("#result_list tr", has_text=row_text).locator("input.action-select").check()
    tab.locator("select[name=action]").select_option(label=action)
    tab.locator("button[name=index]").click()
    tab.get_by_label("Reason").fill(reason)
    tab.get_by_role("button", name=action, exact=True).click()


def test_a_visitor_reports_a_shared_image_staff_hide_it_and_unhide_it(
    page, visitor, live_server, sam, alice
):
    image = stored_image_of(alice, prompt="a harbour at night")
    _, token = share(alice, image=image)
    link = f"{live_server.url}/s/{token}/"

    assert visitor.goto(link).status == 200
    visitor.get_by_text("Report", exact=True).click()
    visitor.get_by_label("Reason").select_option(label="Infringing")
    visitor.get_by_label("Details").fill("This is my photograph")
    visitor.get_by_role("button", name="Send report").click()
    expect(visitor.get_by_role("heading", name="Thank you")).to_be_visible()
    assert visitor.goto(link).status == 200  # back on the shared image
    report = Report.objects.get()
    assert (report.image_id, report.reason, report.reporter) == (image.pk, "infringing", None)

    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Moderation queue").first.click()
    row = page.locator("#result_list tr", has_text="a harbour at night")
    expect(row.locator("td.field-report_count")).to_have_text("1")
    assert "Infringing (1)" in row.inner_text()
    run_action(page, "a harbour at night", "Hide", "Copyright claim by the photographer")
    expect(page.get_by_text("Hide images: 1 done")).to_be_visible()
    assert Image.objects.get(pk=image.pk).is_hidden

    gone = visitor.reload()
    assert gone.status == 404
    assert "a harbour at night" not in visitor.content()
    neutral = visitor.locator("main").inner_text()
    assert visitor.goto(f"{live_server.url}/s/{'A' * 32}/").status == 404  # a made-up token
    assert visitor.locator("main").inner_text() == neutral  # the same page: nothing told
    visitor.goto(link)

    page.goto(f"{live_server.url}/admin/gallery/moderationevent/")
    entry = page.locator("#result_list tr", has_text="Copyright claim by the photographer")
    expect(entry).to_contain_text("hide")
    expect(entry).to_contain_text("sam")

    page.goto(f"{live_server.url}/admin/gallery/image/?is_hidden__exact=1")
    run_action(page, "a harbour at night", "Unhide", "Licence shown: the author owns it")
    expect(page.get_by_text("Unhide images: 1 done")).to_be_visible()
    assert list(ModerationEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "hide", "unhide",
    ]  # fmt: skip

    back = visitor.reload()
    assert back.status == 200
    expect(visitor.get_by_text("Report", exact=True)).to_be_visible()
