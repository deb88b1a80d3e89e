"""A member keeps images in order in Chromium: tags with suggestions from the keyboard, a tag's
page and filter, a collection of two images, a saved search opened from the navigation,
names holding HTML shown as text, and the pages on a phone-sized screen."""

import re

import pytest

from gallery.models import Collection, Image, SavedSearch
from gallery.services import collections as collection_service
from gallery.services import demo
from gallery.services.tags import add_tags

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EVIL = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture
def images(s3_server, alice):
    """Six real drawn images of alice's, one per batch, newest first."""
    demo.seed_fast([alice], 6, progress=lambda n: None)
    rows = list(Image.objects.order_by("-created_at", "-id"))
    for n, image in enumerate(rows):
        image.batch = image.generation.batch if image.generation else image.batch
        image.prompt = f"picture number {n}"
        image.save()
    return rows


def no_reload_marker(page):
    page.evaluate("() => { window.__stay = 1; }")


def still_same_page(page) -> bool:
    return page.evaluate("() => window.__stay === 1")


def test_tag_an_image_from_the_keyboard_then_filter_by_the_tag(
    logged_in_page, live_server, images, alice
):
    page = logged_in_page
    add_tags(alice, [images[5]], ["sunset"])  # an existing tag to be suggested
    target = images[0]
    page.goto(f"{live_server.url}/images/{target.pk}/")
    no_reload_marker(page)
    field = page.get_by_label("Tags")
    field.focus()
    field.type("Sea  Kite")
    field.press("Enter")
    page.wait_for_function("() => document.querySelector('#image-tags .tag-chip a')")
    assert page.locator("#image-tags .tag-chip a").all_inner_texts() == ["sea kite"]
    assert page.evaluate("() => document.activeElement.id") == "id_tag_name"  # focus stays

    # The suggestion list: ArrowDown picks, Enter adds; Escape closes it.
    field = page.get_by_label("Tags")
    field.type("sun")
    page.wait_for_function("() => !document.getElementById('tag-suggestions').hidden")
    assert page.locator("#tag-suggestions").get_by_role("option").all_inner_texts() == ["sunset"]
    field.press("ArrowDown")
    assert (
        page.locator("#tag-suggestions").get_by_role("option").get_attribute("aria-selected")
        == "true"
    )
    field.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('#image-tags .tag-chip').length === 2")
    field = page.get_by_label("Tags")
    field.type("sun")
    page.wait_for_function("() => !document.getElementById('tag-suggestions').hidden")
    field.press("Escape")
    assert page.locator("#tag-suggestions").is_hidden()

    # A refused tag says why, in place.
    field.fill("x" * 60)
    field.press("Enter")
    page.wait_for_function("() => document.getElementById('tag-error')")
    assert "at most 50" in page.locator("#tag-error").inner_text()

    # Remove one with the keyboard: its button is focusable and says which tag it removes.
    remove = page.get_by_role("button", name="Remove tag sunset")
    remove.focus()
    remove.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('#image-tags .tag-chip').length === 1")
    assert still_same_page(page)
    assert sorted(Image.objects.get(pk=target.pk).tags.names()) == ["sea kite"]

    # Favourite from the keyboard too.
    favourite = page.get_by_role("button", name=re.compile("Favourite"))
    favourite.focus()
    favourite.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('.favourite button').getAttribute('aria-pressed') === 'true'"
    )

    page.get_by_role("link", name="sea kite").click()
    page.wait_for_url(re.compile(r"/tags/sea%20kite/"))
    assert page.locator("#grid .tile-link").count() == 1
    page.goto(f"{live_server.url}/?view=flat&tag=sea+kite")
    assert page.locator("#grid .tile-link").count() == 1
    chip = page.locator(".chips a.chip", has_text="Tag: sea kite")
    chip.click()
    page.wait_for_url(re.compile(r"/\?view=flat$"))
    assert page.locator("#grid .tile-link").count() == 6


def test_create_a_collection_add_two_images_and_open_it(logged_in_page, live_server, images):
    page = logged_in_page
    page.get_by_role("link", name="Collections").click()
    page.get_by_text("New collection").click()
    page.get_by_label("Name").fill("Best of")
    page.get_by_label("Description").fill("Two favourites")
    page.get_by_role("button", name="Create collection").click()
    album = Collection.objects.get()
    page.wait_for_url(f"{live_server.url}/collections/{album.pk}/")
    for image in images[2:4]:
        page.goto(f"{live_server.url}/images/{image.pk}/")
        no_reload_marker(page)
        toggle = page.get_by_role("button", name="Best of")
        toggle.focus()
        toggle.press("Enter")
        page.wait_for_function(
            "() => document.querySelector('.collection-toggle').getAttribute('aria-pressed') === 'true'"
        )
        assert still_same_page(page)
    page.get_by_role("link", name="Open Best of").click()
    page.wait_for_url(f"{live_server.url}/collections/{album.pk}/")
    ids = [int(re.search(r"/images/(\d+)/", a).group(1)) for a in
           page.locator("#grid .tile-link").evaluate_all("els => els.map(e => e.getAttribute('href'))")]  # fmt: skip
    assert ids == [images[3].pk, images[2].pk]  # newest added first
    assert page.get_by_text("Two favourites").is_visible()
    page.goto(f"{live_server.url}/collections/")
    assert page.locator(".collection-card img").count() == 1  # the newest added is the cover


def test_save_a_search_and_open_it_from_the_navigation(logged_in_page, live_server, images, alice):
    page = logged_in_page
    add_tags(alice, images[:2], ["kept"])
    page.goto(f"{live_server.url}/?tag=kept&view=flat")
    page.get_by_text("Save search").click()
    page.get_by_label("Name").fill("Kept ones")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(re.compile(r"/\?"))
    assert SavedSearch.objects.get().query == "view=flat&tag=kept"
    page.goto(f"{live_server.url}/jobs/")
    page.locator(".saved-nav summary").click()
    page.get_by_role("link", name="Kept ones").click()
    page.wait_for_url(re.compile(r"/\?view=flat&tag=kept$"))
    assert page.locator("#grid .tile-link").count() == 2


def test_names_holding_html_are_shown_as_text(logged_in_page, live_server, images, alice):
    page = logged_in_page
    add_tags(alice, [images[0]], [EVIL])
    album = collection_service.create_collection(alice, EVIL, description=EVIL)
    collection_service.add_images(alice, album, [images[0]])
    name = EVIL.casefold()
    page.goto(f"{live_server.url}/images/{images[0].pk}/")
    assert page.locator("#image-tags .tag-chip a").inner_text() == name
    assert page.get_by_role("button", name=EVIL, exact=True).is_visible()
    page.get_by_role("link", name=name, exact=True).click()
    assert page.locator("h1 .tag-name").inner_text() == name
    page.goto(f"{live_server.url}/collections/{album.pk}/")
    assert page.locator("h1.collection-name").inner_text() == EVIL
    assert page.locator(".collection-description").inner_text() == EVIL
    page.goto(f"{live_server.url}/collections/")
    assert page.locator(".collection-card .collection-name").inner_text() == EVIL
    page.goto(f"{live_server.url}/?collection={album.pk}")
    assert page.locator(".chips").get_by_text(f"Collection: {EVIL}").is_visible()
    assert page.evaluate("() => window.__pwned") is None


def test_organise_pages_fit_a_phone(browser, live_server, images, alice):
    from tests.fixtures.people import PASSWORD

    add_tags(alice, images[:1], ["a rather long tag name for a phone"])
    album = collection_service.create_collection(alice, "A collection with a long name " * 3)
    collection_service.add_images(alice, album, images[:3])
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    for url in (f"/images/{images[0].pk}/", "/collections/", f"/collections/{album.pk}/",
                "/tags/a rather long tag name for a phone/", "/searches/"):  # fmt: skip
        page.goto(live_server.url + url)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, url
    context.close()
