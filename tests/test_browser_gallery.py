"""A member finds, studies and reuses images in Chromium: search, the image page, Remix,
Vary, the lightbox, infinite scroll, a phone-sized screen, and prompts that try to run code."""

import re

import pytest
from django.contrib.auth import get_user_model

from gallery.models import Generation, Image
from gallery.services import demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> a fox'


@pytest.fixture
def gallery(s3_server, alice):
    """Thirty real drawn images in S3 (batches stacked), three with prompts the tests look for."""
    demo.seed_fast([alice], 30, progress=lambda n: None)
    # Demo prompts are random (and may hold 橘猫 or lighthouse): make the rest plain.
    Image.objects.update(prompt="a quiet meadow", search_tokens="")
    images = list(Image.objects.order_by("-created_at", "-id"))
    for image, prompt in zip(
        images[:3], ["一只在雨中的橘猫", "Lighthouses at dawn, oil painting", XSS], strict=True
    ):
        image.prompt = prompt
        image.created_at = images[0].created_at  # the three newest, each its own batch
        image.batch = Generation.objects.get(pk=image.generation_id).batch
        image.save()
    return Image.objects.all()


def tiles(page):
    return page.locator("#grid .tile")


def test_search_open_remix_and_vary(logged_in_page, live_server, gallery):
    page = logged_in_page
    page.get_by_label("Search").fill("橘猫")
    page.get_by_label("Search").press("Enter")
    page.wait_for_url(re.compile(r"q=%E6%A9%98%E7%8C%AB"))
    assert tiles(page).count() == 1
    assert page.locator("#grid mark").first.inner_text() == "橘猫"

    page.get_by_label("Search").fill("ighthou")
    page.get_by_label("Search").press("Enter")
    page.wait_for_url(re.compile(r"q=ighthou"))
    assert tiles(page).count() == 1
    target = Image.objects.get(prompt__startswith="Lighthouses")
    page.goto(f"{live_server.url}/images/{target.pk}/?q=ighthou")
    assert page.locator(".facts").get_by_text(str(target.seed)).is_visible()
    assert page.title().startswith("Lighthouses at dawn")

    page.get_by_role("link", name="Remix").click()
    page.wait_for_url(re.compile(r"/generate/\?remix="))
    assert page.get_by_label("Seed").input_value() == str(target.seed)
    assert page.get_by_label("Size").input_value() == f"{target.width}x{target.height}"
    assert page.get_by_label("Prompt").input_value() == target.prompt

    page.go_back()
    page.get_by_role("button", name="Vary").click()
    page.wait_for_url(re.compile(r"/generate/[0-9a-f-]{36}/$"))
    job = Generation.objects.filter(prompt=target.prompt).order_by("-id").first()
    assert job.status == "queued" and job.seed != target.seed and job.seed_was_random
    assert (job.width, job.height) == (target.width, target.height)


def test_lightbox_steps_with_arrows_reopens_from_its_url_and_closes_with_escape(
    logged_in_page, live_server, gallery
):
    page = logged_in_page
    page.goto(f"{live_server.url}/?view=flat")
    first_id = tiles(page).nth(0).get_attribute("data-id")
    second_id = tiles(page).nth(1).get_attribute("data-id")
    tiles(page).nth(0).click()
    figure = page.locator("#lightbox .lb-figure")
    figure.wait_for()
    assert figure.get_attribute("data-id") == first_id
    assert page.url.endswith(f"#image-{first_id}")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        f"() => document.querySelector('#lightbox .lb-figure').dataset.id === '{second_id}'"
    )
    assert page.url.endswith(f"#image-{second_id}")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        f"() => document.querySelector('#lightbox .lb-figure').dataset.id === '{first_id}'"
    )
    page.keyboard.press("ArrowRight")
    page.wait_for_url(re.compile(f"#image-{second_id}$"))
    page.reload()
    page.locator(f"#lightbox .lb-figure[data-id='{second_id}']").wait_for()
    assert page.locator("#lightbox").evaluate("d => d.open")
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.getElementById('lightbox').open")
    # The dialog's close event, which clears the hash, comes a moment after `open` turns false.
    page.wait_for_function("() => !location.hash.startsWith('#image-')")
    assert "#image-" not in page.url


def test_prompts_are_shown_as_text_and_never_run(logged_in_page, live_server, gallery):
    page = logged_in_page
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    xss = Image.objects.get(prompt=XSS)
    for url in ["/?view=flat", "/?q=fox", f"/images/{xss.pk}/", f"/?view=flat#image-{xss.pk}"]:
        page.goto(f"{live_server.url}{url}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__pwned") is None
    assert page.locator("#lightbox .lb-prompt").inner_text().startswith("<script>")
    page.goto(f"{live_server.url}/images/{xss.pk}/")
    assert "<script>window.__pwned" in page.locator("h1").inner_text()
    assert dialogs == []


def test_the_grid_keeps_each_images_shape_and_fits_a_phone(
    browser, live_server, gallery, alice, tmp_path
):
    from tests.fixtures.people import PASSWORD

    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/?view=flat")
    page.wait_for_load_state("networkidle")
    boxes = tiles(page).evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect(); const i = e.querySelector('img');"
        " return {left: r.left, right: r.right, w: r.width, h: r.height, ratio: i.width / i.height,"
        " natural: i.naturalWidth}; })"
    )
    assert all(box["left"] >= 0 and box["right"] <= 390 for box in boxes)
    assert all(abs(box["w"] / box["h"] - box["ratio"]) / box["ratio"] < 0.03 for box in boxes)
    assert all(box["natural"] > 0 for box in boxes[:6])  # thumbnails really load from S3
    rows = {round(box["h"]) for box in boxes}
    assert len(rows) < len(boxes)  # tiles share rows: a justified grid, not one column
    assert page.locator("main").evaluate("m => m.scrollWidth <= m.clientWidth")
    assert page.get_by_label("Search").is_visible()
    page.screenshot(path=str(tmp_path / "gallery-390.png"))
    context.close()


def test_infinite_scroll_and_plain_older_links(logged_in_page, browser, live_server, gallery):
    page = logged_in_page
    page.goto(f"{live_server.url}/?view=flat&per_page=10")  # the server sends 10 tiles
    for _ in range(50):  # scroll to the end until the last page has come
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        if tiles(page).count() == 30:
            break
        page.wait_for_timeout(200)
    ids = tiles(page).evaluate_all("els => els.map(e => e.dataset.id)")
    assert len(set(ids)) == 30  # every image once, in pages of ten, no gaps
    assert page.locator("#grid .grid-end.more").count() == 0  # the end: nothing more to ask

    plain = browser.new_context(java_script_enabled=False)
    plain.add_cookies(page.context.cookies())
    tab = plain.new_page()
    tab.goto(f"{live_server.url}/?view=flat&per_page=10")
    first = tab.locator("#grid .tile").evaluate_all("els => els.map(e => e.dataset.id)")
    assert first == ids[:10]
    tab.get_by_role("link", name="Older").click()
    second = tab.locator("#grid .tile").evaluate_all("els => els.map(e => e.dataset.id)")
    assert len(second) == 10 and not set(first) & set(second)
    tab.get_by_role("link", name="Newer").first.click()
    assert tab.locator("#grid .tile").evaluate_all("els => els.map(e => e.dataset.id)") == first
    plain.close()


def test_favourite_toggles_without_a_reload(logged_in_page, live_server, gallery, alice):
    page = logged_in_page
    image = gallery.first()
    page.goto(f"{live_server.url}/images/{image.pk}/")
    page.evaluate("window.__same = true")
    page.get_by_role("button", name="Favourite").click()
    page.locator(".favourite button[aria-pressed=true]").wait_for()
    assert page.evaluate("window.__same") is True
    assert get_user_model().objects.get(pk=alice.pk).favourites.filter(image=image).exists()


def test_arrow_keys_step_through_images_on_the_image_page(logged_in_page, live_server, gallery):
    page = logged_in_page
    ordered = list(Image.objects.order_by("-created_at", "-id").values_list("pk", flat=True))
    page.goto(f"{live_server.url}/images/{ordered[1]}/?view=flat")
    page.keyboard.press("ArrowRight")
    page.wait_for_url(re.compile(f"/images/{ordered[2]}/"))
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(re.compile(f"/images/{ordered[1]}/"))


def test_gallery_pages_work_under_a_strict_content_security_policy(
    logged_in_page, live_server, gallery, s3_server
):
    """Scripts and styles only from the site, no inline anything: every gallery feature keeps
    working and the browser reports no violation (the header is added here in the browser, so
    the test holds whatever middleware ends up sending it)."""
    page = logged_in_page
    policy = (
        f"default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' {s3_server.endpoint}; connect-src 'self'; object-src 'none'"
    )

    def with_policy(route):
        response = route.fetch()
        route.fulfill(
            response=response, headers={**response.headers, "content-security-policy": policy}
        )

    page.route(f"{live_server.url}/**", with_policy)
    violations = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.goto(f"{live_server.url}/?view=flat&per_page=10")
    for _ in range(50):
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        if tiles(page).count() == 30:
            break
        page.wait_for_timeout(200)
    assert tiles(page).count() == 30  # HTMX infinite scroll ran
    tiles(page).nth(0).click()
    page.locator("#lightbox .lb-figure").wait_for()  # the lightbox script ran
    page.keyboard.press("Escape")
    image = gallery.first()
    page.goto(f"{live_server.url}/images/{image.pk}/")
    page.get_by_role("button", name="Favourite").click()
    page.locator(".favourite button[aria-pressed=true]").wait_for()
    assert violations == [], "\n".join(violations)


def _stored_picture(owner, width: int, height: int) -> Image:
    from io import BytesIO

    from PIL import Image as Picture

    from gallery.storage import put_object
    from tests.images import make_image

    image = make_image(owner, width=width, height=height)
    buffer = BytesIO()
    Picture.new("RGB", (width, height), "teal").save(buffer, "JPEG")
    put_object(image.original_key, buffer.getvalue(), "image/jpeg")
    return image


def test_the_image_page_fits_a_tall_image_in_the_window_and_widens_a_small_one(
    logged_in_page, live_server, alice, s3_server
):
    page = logged_in_page
    page.set_viewport_size({"width": 1280, "height": 800})
    tall = _stored_picture(alice, 720, 1280)
    page.goto(f"{live_server.url}/images/{tall.pk}/")
    box = page.locator(".viewer img").bounding_box()
    assert box["height"] <= 800 - 9 * 16 + 1  # the window less the page's own chrome
    small = _stored_picture(alice, 320, 180)
    page.goto(f"{live_server.url}/images/{small.pk}/")
    picture = page.locator(".viewer img").bounding_box()
    frame = page.locator(".viewer").bounding_box()
    assert picture["width"] > 0.85 * frame["width"]  # not left at 320 px in a 750 px card
