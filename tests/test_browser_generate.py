"""A member generates images in Chromium and watches them arrive without reloading."""

import pytest

from gallery.models import Generation

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def open_generate(page, live_server):
    page.goto(f"{live_server.url}/generate/")
    page.get_by_label("Prompt").fill("A porcelain fox in morning fog")


def test_generate_two_variations_and_watch_them_arrive(
    logged_in_page, live_server, start_worker, emulator, s3_server, tmp_path
):
    start_worker(concurrency=4)
    emulator.faults(count=2, kind="latency", latency_s=1.0, status=200)
    page = logged_in_page
    open_generate(page, live_server)
    page.get_by_role("button", name="864×1152").click()
    assert page.get_by_label("Size").input_value() == "864x1152"
    page.get_by_label("Variations").fill("2")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_url(f"{live_server.url}/generate/*/")
    page.evaluate("window.__stillTheSamePage = true")
    cards = page.locator("article.job")
    assert cards.count() == 2
    page.wait_for_function(
        "() => document.querySelectorAll('article.job[data-status=succeeded] img').length === 2",
        timeout=60_000,
    )
    assert page.evaluate("window.__stillTheSamePage") is True  # updated in place, no reload
    page.locator("article.job img").first.evaluate("img => img.decode()")
    widths = page.locator("article.job img").evaluate_all("els => els.map(e => e.naturalWidth)")
    assert all(width > 0 for width in widths)
    page.screenshot(path=str(tmp_path / "batch.png"), full_page=True)
    seeds = {g.seed for g in Generation.objects.all()}
    assert len(seeds) == 2


def test_a_queued_job_can_be_canceled(logged_in_page, live_server, redis_url):
    page = logged_in_page  # no worker: the job stays queued
    open_generate(page, live_server)
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_url(f"{live_server.url}/generate/*/")
    page.get_by_role("button", name="Cancel").click()
    page.locator("article.job[data-status=canceled]").wait_for()
    assert Generation.objects.get().status == "canceled"


def test_a_refused_prompt_shows_why_and_can_be_retried(
    logged_in_page, live_server, start_worker, emulator, s3_server
):
    start_worker(concurrency=2)
    emulator.faults(count=1, status=400, code="InputTextSensitiveContentDetected")
    page = logged_in_page
    open_generate(page, live_server)
    page.get_by_role("button", name="Generate", exact=True).click()
    failed = page.locator("article.job[data-status=failed]")
    failed.wait_for(timeout=30_000)
    assert "refused by the provider's content filter" in failed.inner_text()
    page.get_by_role("button", name="Retry").click()
    page.locator("article.job[data-status=succeeded] img").wait_for(timeout=30_000)


def test_bad_form_input_shows_field_errors_in_the_browser(logged_in_page, live_server):
    page = logged_in_page
    open_generate(page, live_server)
    page.get_by_label("Size").fill("100x100")
    page.get_by_label("Seed").fill("banana")
    page.get_by_role("button", name="Generate", exact=True).click()
    assert "each side must be between 512 and 2048" in page.locator("#error_size").inner_text()
    assert "Seed must be a whole number" in page.locator("#error_seed").inner_text()
    assert page.locator("#error_size").is_visible() and page.locator("#error_seed").is_visible()
    assert page.get_by_label("Prompt").input_value() == "A porcelain fox in morning fog"
    assert Generation.objects.count() == 0


def test_download_saves_the_original_under_a_readable_name(
    logged_in_page, live_server, alice, s3_server, tmp_path
):
    from gallery.models import Image
    from gallery.storage import put_object

    put_object("originals/dl/browser.jpg", b"\xff\xd8\xff\xe0 original bytes", "image/jpeg")
    generation = Generation.objects.create(
        user=alice, prompt="Porcelain fox, morning fog", model="m", width=1024, height=1024,
        seed=42, guidance_scale=2.5, status="succeeded",
    )  # fmt: skip
    image = Image.objects.create(
        generation=generation, owner=alice, prompt=generation.prompt, model="m", seed=42,
        guidance_scale=2.5, width=1024, height=1024, original_key="originals/dl/browser.jpg",
        content_type="image/jpeg", byte_size=22, sha256="2" * 64, provider_sha256="0" * 64,
        thumbnail_key="originals/dl/browser.jpg", thumb_width=384, thumb_height=384,
    )  # fmt: skip
    page = logged_in_page
    page.goto(f"{live_server.url}/images/{image.pk}/")
    with page.expect_download() as caught:
        page.get_by_role("link", name="Download").click()
    download = caught.value
    assert download.suggested_filename == "porcelain-fox-morning-fog-seed42.jpg"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes() == b"\xff\xd8\xff\xe0 original bytes"


def test_ctrl_enter_submits_the_form_from_the_keyboard(logged_in_page, live_server, redis_url):
    page = logged_in_page
    open_generate(page, live_server)
    page.get_by_label("Prompt").press("Control+Enter")
    page.wait_for_url(f"{live_server.url}/generate/*/")
    assert Generation.objects.get().prompt == "A porcelain fox in morning fog"


def test_the_first_invalid_field_has_the_focus_after_a_bad_submit(logged_in_page, live_server):
    page = logged_in_page
    open_generate(page, live_server)
    page.get_by_label("Guidance scale").fill("12")
    page.get_by_label("Variations").fill("9")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.locator("#error-summary").wait_for()
    assert page.evaluate("document.activeElement.id") == "id_guidance_scale"
    assert "Guidance scale must be between 1 and 10." in page.locator("#error-summary").inner_text()
    assert page.get_by_label("Guidance scale").get_attribute("aria-invalid") == "true"
    page.get_by_role("link", name="Variations").click()  # the summary leads to each field
    assert page.evaluate("location.hash") == "#id_variations"


def test_random_seed_and_guidance_slider_fill_the_fields(logged_in_page, live_server):
    page = logged_in_page
    open_generate(page, live_server)
    page.get_by_role("button", name="Random seed").click()
    seed = page.get_by_label("Seed").input_value()
    assert seed.isdigit() and 0 <= int(seed) <= 2147483647
    page.locator(".guidance-slider").fill("7.5")
    assert page.get_by_label("Guidance scale").input_value() == "7.5"
    page.get_by_label("Guidance scale").fill("3")
    assert page.locator(".guidance-slider").input_value() == "3"


def test_quota_warning_follows_the_variations_asked(logged_in_page, live_server, settings):
    settings.GENERATION_DAILY_IMAGE_LIMIT = 2
    page = logged_in_page
    open_generate(page, live_server)
    warning = page.locator("#quota-warning")
    assert warning.is_hidden()
    page.get_by_label("Variations").fill("3")
    assert warning.is_visible() and "Only 2 images are left today" in warning.inner_text()
    page.get_by_label("Variations").fill("2")
    assert warning.is_hidden()
