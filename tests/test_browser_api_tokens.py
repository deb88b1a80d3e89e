"""A member makes, copies and revokes an API token in Chromium; the API docs render from
the app's own static files."""

import pytest

from gallery.models import ApiToken
from gallery.services import api_tokens

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_make_a_token_then_revoke_it(logged_in_page, live_server, tmp_path):
    page = logged_in_page
    page.get_by_role("link", name="API tokens").click()
    page.wait_for_url(f"{live_server.url}/settings/tokens/")
    page.get_by_label("Name").fill("laptop notebook")
    page.get_by_role("button", name="Create token").click()
    raw = page.locator("#new-token").inner_text().strip()
    assert api_tokens.authenticate(raw) == ApiToken.objects.get(name="laptop notebook")
    page.screenshot(path=str(tmp_path / "tokens.png"), full_page=True)

    page.goto(f"{live_server.url}/settings/tokens/")
    assert page.locator("#new-token").count() == 0  # shown once
    page.get_by_role("button", name="Revoke").click()
    page.get_by_text("Token revoked").wait_for()
    assert api_tokens.authenticate(raw) is None


def test_tokens_page_does_not_scroll_sideways_on_a_narrow_phone(logged_in_page, live_server, alice):
    api_tokens.create(user=alice, name="a token with a rather long name for a small screen")
    page = logged_in_page
    page.set_viewport_size({"width": 320, "height": 700})
    page.goto(f"{live_server.url}/settings/tokens/")
    page.get_by_label("Name").fill("phone")
    page.get_by_role("button", name="Create token").click()
    page.locator("#new-token").wait_for()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


def test_api_docs_render_without_any_outside_request(page, live_server):
    outside = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url) if not request.url.startswith(live_server.url) else None
        ),
    )
    page.goto(f"{live_server.url}/api/docs")
    page.get_by_text("Seedgallery API").first.wait_for()
    page.get_by_text("/api/jobs").first.wait_for()
    assert outside == []
