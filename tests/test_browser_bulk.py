"""A member selects tiles in Chromium (click, shift-click, the keyboard), makes them private in
bulk and downloads them as a ZIP; a teammate's browser then no longer finds them."""

from __future__ import annotations

import uuid
import zipfile

import pytest

from gallery.models import Image
from gallery.services import demo
from tests.fixtures.people import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pictures(s3_server, alice):
    """Six real drawn images of alice's in S3, each its own batch, with findable prompts."""
    demo.seed_fast([alice], 6, progress=lambda n: None)
    images = list(Image.objects.order_by("-created_at", "-id"))
    for n, image in enumerate(images):
        image.prompt = f"harbour sketch number {n}"
        image.batch = uuid.uuid4()  # each its own batch: no stacks on any page
        image.save()
    return images


def log_in(browser, live_server, username: str, csp_watch, width=1280, height=900):
    context = browser.new_context(
        viewport={"width": width, "height": height}, accept_downloads=True
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.on("console", csp_watch.on_console)
    tab.goto(f"{live_server.url}/accounts/login/")
    tab.get_by_label("Username").fill(username)
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Log in").click()
    tab.wait_for_url(f"{live_server.url}/")
    return tab


def box(page, image_id: int):
    return page.locator(f'#grid .tile input[name="ids"][value="{image_id}"]')


def checked_ids(page) -> list[int]:
    return [int(v) for v in page.locator('#grid .tile input[name="ids"]:checked').evaluate_all(
        "els => els.map(e => e.value)")]  # fmt: skip


def tile_ids(page) -> list[int]:
    return [int(v) for v in page.locator("#grid .tile").evaluate_all(
        "els => els.map(e => e.dataset.id)")]  # fmt: skip


def test_select_a_range_make_it_private_and_download_it_then_a_teammate_cannot_find_it(
    browser, live_server, alice, bob, pictures, csp_watch, tmp_path
):
    page = log_in(browser, live_server, "alice", csp_watch)
    page.goto(f"{live_server.url}/?view=flat")
    ids = tile_ids(page)
    assert len(ids) == 6
    box(page, ids[1]).click()
    box(page, ids[3]).click(modifiers=["Shift"])  # the range from the last click
    assert checked_ids(page) == ids[1:4]
    assert page.locator("#bulk-count").inner_text() == "3 selected"

    page.get_by_label("Set visibility").select_option("private")
    page.get_by_role("button", name="Change visibility").click()
    page.get_by_text("3 images are now Private.").wait_for()
    chosen = ids[1:4]
    assert sorted(
        Image.objects.filter(visibility="private").values_list("pk", flat=True)
    ) == sorted(chosen)

    box(page, chosen[0]).click()
    box(page, chosen[2]).click(modifiers=["Shift"])
    with page.expect_download() as event:
        page.get_by_role("button", name="Download ZIP").click()
    download = event.value
    assert download.suggested_filename.startswith("seedgallery-3-images-")
    path = tmp_path / "selection.zip"
    download.save_as(path)
    with zipfile.ZipFile(path) as zipped:
        names = zipped.namelist()
        assert zipped.testzip() is None
        jpegs = [zipped.read(name) for name in names if not name.endswith(".json")]
    wanted = {Image.objects.get(pk=pk).download_name for pk in chosen}
    assert set(names) == wanted | {f"{name}.json" for name in wanted}
    assert all(data[:2] == b"\xff\xd8" for data in jpegs)  # real JPEG originals

    teammate = log_in(browser, live_server, "bob", csp_watch)
    teammate.goto(f"{live_server.url}/?view=flat")
    assert sorted(tile_ids(teammate)) == sorted(set(ids) - set(chosen))
    teammate.get_by_label("Search").fill("harbour sketch")
    teammate.get_by_label("Search").press("Enter")
    teammate.wait_for_url("**/?q=harbour*")
    assert sorted(tile_ids(teammate)) == sorted(set(ids) - set(chosen))
    answer = teammate.goto(f"{live_server.url}/images/{chosen[0]}/")
    assert answer.status == 404
    assert csp_watch.violations == []


def test_the_selection_works_from_the_keyboard(browser, live_server, alice, pictures, csp_watch):
    page = log_in(browser, live_server, "alice", csp_watch)
    page.goto(f"{live_server.url}/?view=flat")
    ids = tile_ids(page)
    box(page, ids[0]).focus()
    page.keyboard.press("Space")
    box(page, ids[2]).focus()
    page.keyboard.press("Shift+Space")  # a range, as with the mouse
    assert checked_ids(page) == ids[0:3]
    page.get_by_role("button", name="Clear selection").click()
    assert checked_ids(page) == []
    page.get_by_role("button", name="Select all on this page").click()
    assert checked_ids(page) == ids
    assert page.locator("#bulk-count").inner_text() == "6 selected"


def test_a_refused_bulk_action_says_why_in_the_bar(
    browser, live_server, alice, pictures, csp_watch
):
    page = log_in(browser, live_server, "alice", csp_watch)
    page.goto(f"{live_server.url}/?view=flat")
    box(page, tile_ids(page)[0]).click()
    page.get_by_role("button", name="Tag", exact=True).click()  # no tag typed
    page.get_by_text("Type at least one tag.").wait_for()


def test_the_selection_bar_fits_a_phone(browser, live_server, alice, pictures, csp_watch):
    page = log_in(browser, live_server, "alice", csp_watch, width=390, height=844)
    page.goto(f"{live_server.url}/?view=flat")
    page.get_by_role("button", name="Select all on this page").click()
    page.get_by_role("button", name="Download ZIP").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_done_when_tag_in_bulk_filter_collect_make_private_and_a_teammate_loses_it_everywhere(
    browser, live_server, alice, bob, pictures, csp_watch, tmp_path
):
    """The issue's "done when": alice tags three images in bulk, filters by the tag, puts two
    in a new collection, makes one private; bob's browser no longer sees it anywhere."""
    page = log_in(browser, live_server, "alice", csp_watch)
    page.goto(f"{live_server.url}/?view=flat")
    ids = tile_ids(page)
    three = ids[:3]
    box(page, three[0]).click()
    box(page, three[2]).click(modifiers=["Shift"])
    page.get_by_label("Tags to add or remove").fill("Harbour Set")
    page.get_by_role("button", name="Tag", exact=True).click()
    page.get_by_text("Tagged 3 images with harbour set.").wait_for()

    page.goto(f"{live_server.url}/?tag=harbour+set&view=flat")  # the gallery filtered by it
    assert tile_ids(page) == three

    page.goto(f"{live_server.url}/collections/")
    page.get_by_text("New collection").click()
    page.get_by_label("Name").fill("Harbour picks")
    page.get_by_role("button", name="Create collection").click()
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/tags/harbour%20set/")
    assert sorted(tile_ids(page)) == sorted(three)
    box(page, three[0]).click()
    box(page, three[1]).click()
    page.get_by_label("Collection", exact=True).select_option(label="Harbour picks")
    page.get_by_role("button", name="Add to collection").click()
    page.get_by_text("Added 2 images to “Harbour picks”.").wait_for()
    album = alice.collections.get(name="Harbour picks")
    assert sorted(album.items.values_list("image_id", flat=True)) == sorted(three[:2])

    secret = three[0]
    page.goto(f"{live_server.url}/images/{secret}/")
    page.get_by_label("Visibility").select_option("private")
    page.locator(".visibility").get_by_text("Saved.").wait_for()  # HTMX, in place
    assert Image.objects.get(pk=secret).visibility == "private"

    teammate = log_in(browser, live_server, "bob", csp_watch)
    lists = {
        "grid": "/?view=flat",
        "search": "/?q=harbour+sketch",
        "tag page": "/tags/harbour%20set/",
        "tag filter": "/?tag=harbour+set&view=flat",
        "collection": f"/collections/{album.pk}/",
    }
    for name, url in lists.items():
        teammate.goto(f"{live_server.url}{url}")
        shown = tile_ids(teammate)
        assert shown and secret not in shown, name
    assert teammate.goto(f"{live_server.url}/images/{secret}/").status == 404

    # The ZIP: of what bob can select on the tag page, and of a forged id.
    teammate.goto(f"{live_server.url}/tags/harbour%20set/")
    teammate.get_by_role("button", name="Select all on this page").click()
    with teammate.expect_download() as event:
        teammate.get_by_role("button", name="Download ZIP").click()
    path = tmp_path / "bob.zip"
    event.value.save_as(path)
    with zipfile.ZipFile(path) as zipped:
        names = set(zipped.namelist())
    assert Image.objects.get(pk=secret).download_name not in names and len(names) == 4
    csrf = next(c["value"] for c in teammate.context.cookies() if c["name"] == "csrftoken")
    forged = teammate.request.post(
        f"{live_server.url}/images/bulk/",
        form={"action": "download", "ids": f"{three[1]},{secret}"},
        headers={"X-CSRFToken": csrf, "Referer": f"{live_server.url}/"},
    )
    assert forged.status == 404
