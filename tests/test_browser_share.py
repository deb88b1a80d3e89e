"""Done-when flows in Chromium: a member shares an image (and a collection) with a password
and download off; a visitor with no session gives the password, sees no Download; the member
allows download and the visitor's reload shows it; the member revokes; the visitor's reload
is a 404 and the image URL it had stops loading within the (short) presigned lifetime."""

import os
import time

import pytest

from tests.share_helpers import collection_of, fresh_counters, stored_image_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIFETIME = 6  # seconds; signed per 1 s window, so an image URL lives 4.5 to 6 s
PASSWORD = "client-review-42"


@pytest.fixture(autouse=True)
def _short_lifetime(settings, redis_url, s3_server):
    fresh_counters()
    settings.SHARE_URL_LIFETIME = LIFETIME


@pytest.fixture
def visitor(visitor_tab):
    """A fresh browser context: no cookies, no session."""
    return visitor_tab()


def create_link(page, start_url: str) -> str:
    page.goto(start_url)
    page.get_by_label("Password").fill(PASSWORD)
    assert not page.get_by_label("Allow download").is_checked()
    page.get_by_label("Label").fill("For the client")
    page.get_by_role("button", name="Create link").click()
    page.locator(".qr svg").wait_for()
    return page.locator("#share-url").input_value()


def unlock(visitor, url: str) -> None:
    response = visitor.goto(url)
    assert response.status == 200
    visitor.get_by_label("Password").fill(PASSWORD)
    visitor.get_by_role("button", name="Open").click()
    visitor.wait_for_load_state()


def image_loaded(visitor, selector: str) -> None:
    visitor.wait_for_function(
        f"() => {{ const i = document.querySelector({selector!r}); return i && i.complete && i.naturalWidth > 0; }}"
    )


def turn_download_on(page, live_server) -> None:
    page.goto(f"{live_server.url}/links/")
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Allow download").check()
    page.get_by_role("button", name="Save").click()
    page.get_by_text("The link is changed.").wait_for()


def revoke(page, live_server) -> None:
    page.goto(f"{live_server.url}/links/")
    page.get_by_role("button", name="Revoke").click()
    page.get_by_role("button", name="Undo").wait_for()


def stops_loading(visitor, url: str, within: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < within:
        if visitor.request.get(url).status == 403:
            return time.monotonic() - start
        time.sleep(0.3)
    pytest.fail(f"the image URL still loads {within} s after the revoke")


def test_an_image_link_with_a_password_download_toggle_and_revoke(
    logged_in_page, live_server, alice, visitor
):
    page = logged_in_page
    image = stored_image_of(alice, prompt="a lighthouse for the client", size=(320, 240))
    page.goto(f"{live_server.url}/images/{image.pk}/")
    page.get_by_role("link", name="Share").click()
    url = create_link(page, page.url)
    assert url.startswith(f"{live_server.url}/s/")

    unlock(visitor, url)
    image_loaded(visitor, ".viewer img")
    visitor.get_by_text("a lighthouse for the client").wait_for()
    assert visitor.get_by_role("link", name="Download").count() == 0
    assert visitor.get_by_text("Report").count() >= 1

    turn_download_on(page, live_server)
    visitor.reload()
    download = visitor.get_by_role("link", name="Download")
    assert download.count() == 1
    with visitor.expect_download() as saved:
        download.click()
    assert saved.value.suggested_filename.endswith(".jpg")
    image_url = visitor.locator(".viewer img").get_attribute("src")
    assert visitor.request.get(image_url).status == 200

    revoke(page, live_server)
    assert visitor.reload().status == 404
    visitor.get_by_text("This link does not work").wait_for()
    stops_loading(visitor, image_url, within=LIFETIME + 2)


def test_a_collection_link_with_a_password_download_toggle_and_revoke(
    logged_in_page, live_server, alice, visitor
):
    page = logged_in_page
    images = [
        stored_image_of(alice, size=size, colour=(60 * n, 90, 120), prompt=f"frame {n}")
        for n, size in enumerate([(320, 240), (240, 320), (300, 300)])
    ]
    collection = collection_of(alice, images, name="Client review")
    page.goto(f"{live_server.url}/collections/{collection.pk}/")
    page.get_by_role("link", name="Share").click()
    url = create_link(page, page.url)

    unlock(visitor, url)
    tiles = visitor.locator("#grid a.tile")
    assert tiles.count() == 3
    image_loaded(visitor, "#grid a.tile img")
    tiles.first.click()
    visitor.locator("#lightbox .lb-figure img").wait_for()
    image_loaded(visitor, "#lightbox .lb-figure img")
    assert visitor.locator("#lightbox").get_by_role("link", name="Download").count() == 0
    visitor.keyboard.press("ArrowRight")
    visitor.wait_for_function(
        "() => document.querySelector('#lightbox .lb-prompt')?.textContent === 'frame 1'"
    )

    turn_download_on(page, live_server)
    visitor.reload()
    visitor.locator("#lightbox .lb-figure img").wait_for()  # reopened from the URL's #image-
    assert visitor.locator("#lightbox").get_by_role("link", name="Download").count() == 1
    thumb_url = visitor.locator("#grid a.tile img").first.get_attribute("src")
    assert visitor.request.get(thumb_url).status == 200

    revoke(page, live_server)
    assert visitor.reload().status == 404
    stops_loading(visitor, thumb_url, within=LIFETIME + 2)


def test_the_public_page_fits_a_phone(browser, live_server, alice):
    from tests.share_helpers import share

    image = stored_image_of(
        alice, size=(640, 960), prompt="A porcelain fox in morning fog, " * 8, colour=(90, 120, 160)
    )
    _, token = share(alice, image=image, allow_download=True, label="Fox study for Ada")
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = context.new_page()
    phone.goto(f"{live_server.url}/s/{token}/")
    image_loaded(phone, ".viewer img")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shots = os.environ.get("SHARE_SCREENSHOT_DIR")
    if shots:
        phone.screenshot(path=f"{shots}/share-image-390.png", full_page=True)
    phone.get_by_text("Report", exact=True).click()
    phone.get_by_label("Reason").wait_for()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()


def test_the_share_form_and_my_links_fit_a_phone(logged_in_page, live_server, alice):
    from tests.share_helpers import share

    page = logged_in_page
    page.set_viewport_size({"width": 390, "height": 844})
    image = stored_image_of(alice, prompt="A porcelain fox in morning fog, " * 8)
    share(alice, image=image, label="A long label for a very particular client " * 3)
    share(alice, collection=collection_of(alice, [image], name="Trip"), password="pw-123456")
    for path in (f"/share/new/?image={image.pk}", "/links/"):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, path
    assert page.get_by_role("button", name="Revoke").first.is_visible()
    shots = os.environ.get("SHARE_SCREENSHOT_DIR")
    if shots:
        page.screenshot(path=f"{shots}/links-390.png", full_page=True)
