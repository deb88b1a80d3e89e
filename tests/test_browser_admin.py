"""The admin at 1280 px: every list fits its columns without cutting any off, under the CSP."""

import pytest

from gallery.models import MemberQuota, ProviderCall
from tests.fixtures.people import PASSWORD
from tests.test_browser_layout import LONG_PROMPT
from tests.test_gallery_pages import make_generation, make_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def busy_admin(sam, alice):
    image = make_image(alice, 1)
    image.prompt = LONG_PROMPT
    image.save()
    job = make_generation(alice, prompt=LONG_PROMPT, status="failed", error_code="content_refused")
    ProviderCall.objects.create(
        generation=job, user=alice, http_status=400, error_code="content_refused"
    )
    MemberQuota.objects.create(user=alice, daily_image_limit=5)
    return image


def test_admin_lists_fit_at_1280_without_cut_off_columns(page, live_server, busy_admin):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    for path in ("gallery/generation", "gallery/image", "gallery/providercall", "auth/user"):
        page.goto(f"{live_server.url}/admin/{path}/")
        results = page.locator("#changelist .results")
        overflow = results.evaluate("el => el.scrollWidth - el.clientWidth")
        assert overflow <= 0, f"{path}: {overflow}px of columns cut off"
    page.goto(f"{live_server.url}/admin/gallery/image/{busy_admin.pk}/change/")
    assert page.locator("img.admin-preview").is_visible()
    assert page.get_by_role("link", name="View on site").is_visible()
