"""A member finds a failed job again from the Jobs page and retries it, and watches a running
job fill in at the top of the gallery, in Chromium."""

import pytest

from gallery.models import Generation

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def nav(page, name: str):
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name)


def submit_prompt(page, live_server, prompt: str) -> None:
    page.goto(f"{live_server.url}/generate/")
    page.get_by_label("Prompt").fill(prompt)
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_url(f"{live_server.url}/generate/*/")


def test_a_failed_job_is_found_again_from_the_jobs_page_and_retried(
    logged_in_page, live_server, start_worker, emulator, s3_server, tmp_path
):
    start_worker(concurrency=2)
    emulator.faults(count=1, status=400, code="InputTextSensitiveContentDetected")
    page = logged_in_page
    submit_prompt(page, live_server, "a lighthouse the filter dislikes")
    page.locator("article.job[data-status=failed]").wait_for(timeout=30_000)
    nav(page, "Gallery").click()  # the member wanders off

    nav(page, "Jobs").click()
    row = page.locator("li.batch-row").filter(has_text="a lighthouse the filter dislikes")
    assert "1 failed" in row.inner_text()
    row.get_by_role("link").click()
    page.wait_for_url(f"{live_server.url}/generate/*/")
    assert "refused by the provider's content filter" in page.locator("article.job").inner_text()
    page.get_by_role("button", name="Retry").click()
    page.locator("article.job[data-status=succeeded] img").wait_for(timeout=30_000)
    assert page.title().startswith("(1/1) Done")
    page.goto(f"{live_server.url}/jobs/")
    assert "1 done" in page.locator("li.batch-row").first.inner_text()
    assert Generation.objects.get().status == "succeeded"


def test_the_gallery_shows_a_running_job_live_and_then_its_new_tile(
    logged_in_page, live_server, start_worker, emulator, s3_server
):
    start_worker(concurrency=2)
    emulator.faults(count=1, kind="latency", latency_s=3.0, status=200)
    page = logged_in_page
    submit_prompt(page, live_server, "a kite over the dunes")
    nav(page, "Gallery").click()
    page.evaluate("window.__stillTheSamePage = true")
    strip = page.locator("#running-jobs")
    strip.locator(
        ".strip-tile[data-status=calling], .strip-tile[data-status=queued]"
    ).first.wait_for()
    assert "Your jobs running now" in strip.inner_text()
    assert page.locator("nav .count").inner_text() == "1"
    strip.locator(".strip-tile[data-status=succeeded] img").wait_for(timeout=30_000)
    assert "Just finished" in strip.inner_text()
    assert page.locator("nav .count").count() == 0  # the strip took the count down too
    assert page.evaluate("window.__stillTheSamePage") is True  # filled in without a reload
    image = Generation.objects.get().image
    assert strip.locator(".strip-tile a").get_attribute("href") == f"/images/{image.pk}/"
