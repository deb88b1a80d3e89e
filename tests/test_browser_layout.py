"""No page scrolls sideways on a phone, even with a long prompt that has no spaces, and no page
breaks the Content-Security-Policy; desktop and phone screenshots of the main pages."""

import pytest

from tests.fixtures.people import PASSWORD
from tests.test_gallery_pages import make_generation, make_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Comma-separated tags without spaces: one 600-character word.
LONG_PROMPT = ",".join(["porcelainfox", "morningfog", "softlight", "ultradetailed"] * 12)
NARROW_WIDTHS = (390, 320)


@pytest.fixture
def cast_with_long_prompts(alice):
    image = make_image(alice, 1)
    image.prompt = LONG_PROMPT
    image.save()
    hidden = make_image(alice, 2)
    hidden.is_hidden = True
    hidden.save()
    failed = make_generation(
        alice, prompt=LONG_PROMPT, status="failed", error_message="Refused: " + LONG_PROMPT
    )
    make_generation(alice, batch=failed.batch, prompt=LONG_PROMPT, status="calling")
    make_generation(alice, batch=failed.batch, prompt=LONG_PROMPT, width=1512, height=648)
    return {"image": image, "hidden": hidden, "batch": failed.batch}


def member_pages(cast) -> list[str]:
    return [
        "/",
        "/generate/",
        f"/generate/?from={cast['batch']}",
        f"/generate/{cast['batch']}/",
        "/jobs/",
        f"/images/{cast['image'].pk}/",
        f"/images/{cast['hidden'].pk}/",
        "/profile/",
        "/accounts/password_change/",
        "/no/such/page/",
    ]


def log_in(page, live_server) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")


def sideways_overflow(page) -> int:
    """How many pixels the page is wider than the window (0 when it fits)."""
    return page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - window.innerWidth"
    )


@pytest.mark.parametrize("width", NARROW_WIDTHS)
def test_no_page_scrolls_sideways_on_a_phone(page, live_server, cast_with_long_prompts, width):
    page.set_viewport_size({"width": width, "height": 844})
    page.goto(f"{live_server.url}/accounts/login/")
    too_wide = {"/accounts/login/": sideways_overflow(page)}
    log_in(page, live_server)
    for path in member_pages(cast_with_long_prompts):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        too_wide[path] = sideways_overflow(page)
        assert page.evaluate("() => window.__cspViolations") == [], path
    # The form with every field in error, and the logged-out page.
    page.goto(f"{live_server.url}/generate/")
    page.get_by_label("Prompt").fill(LONG_PROMPT)
    page.get_by_label("Size").fill("100x" + "9" * 9)
    page.get_by_label("Seed").fill("9" * 40)
    page.get_by_role("button", name="Generate", exact=True).click()
    page.locator("#error-summary").wait_for()
    too_wide["/generate/ (errors)"] = sideways_overflow(page)
    page.get_by_role("button", name="Log out").click()
    page.get_by_text("You have logged out.").wait_for()
    too_wide["logged out"] = sideways_overflow(page)
    assert {path: px for path, px in too_wide.items() if px > 0} == {}


def test_the_navigation_wraps_with_log_out_inside_the_window(page, live_server, alice):
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server)
    box = page.get_by_role("button", name="Log out").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    for name in ("Gallery", "Generate", "Jobs"):
        link = page.get_by_role("navigation", name="Main").get_by_role("link", name=name)
        box = link.bounding_box()
        assert box["x"] + box["width"] <= 390, name


@pytest.mark.parametrize("width", [1280, 390])
def test_the_saved_menu_sits_in_line_with_the_nav_links(page, live_server, alice, width):
    page.set_viewport_size({"width": width, "height": 844})
    log_in(page, live_server)
    nav = page.get_by_role("navigation", name="Main")
    saved = nav.locator("summary").bounding_box()
    beside = nav.get_by_role("link", name="My links").bounding_box()  # in its row at both widths
    middle = [box["y"] + box["height"] / 2 for box in (saved, beside)]
    assert abs(middle[0] - middle[1]) <= 1.5, (saved, beside)  # was 5 px high


@pytest.mark.integration
def test_screenshots_of_generate_batch_and_jobs(
    page, live_server, alice, start_worker, emulator, s3_server, tmp_path
):
    """Not a check of looks: it saves the PNGs a person reviews (see the report), and fails
    only when a page cannot be shown."""
    start_worker(concurrency=4)
    log_in(page, live_server)
    page.goto(f"{live_server.url}/generate/")
    page.get_by_label("Prompt").fill("A lighthouse on a cliff at dusk, gulls, warm light")
    page.get_by_role("button", name="1512×648").click()
    page.get_by_label("Variations").fill("3")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_url(f"{live_server.url}/generate/*/")
    batch_url = page.url
    page.locator("article.job[data-status=succeeded] img").first.wait_for(timeout=60_000)
    page.wait_for_function(
        "() => document.querySelectorAll('article.job[data-status=succeeded]').length === 3",
        timeout=60_000,
    )
    emulator.faults(count=1, status=400, code="InputTextSensitiveContentDetected")
    page.goto(f"{live_server.url}/generate/")
    page.get_by_label("Prompt").fill("A portrait of a fox," + LONG_PROMPT[:200])
    page.get_by_role("button", name="720×1280").click()
    page.get_by_role("button", name="Generate", exact=True).click()
    page.locator("article.job[data-status=failed]").wait_for(timeout=30_000)
    for width, height in ((1280, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        for name, url in (
            ("generate", f"{live_server.url}/generate/"),
            ("batch", batch_url),
            ("jobs", f"{live_server.url}/jobs/"),
            ("gallery", f"{live_server.url}/"),
        ):
            page.goto(url)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(tmp_path / f"{name}-{width}x{height}.png"), full_page=True)
            assert sideways_overflow(page) <= 0, (name, width)
