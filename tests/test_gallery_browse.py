"""The gallery grid: who sees what, filters in the URL, stacks, keyset pages and bad input."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from gallery.models import Favourite
from tests.images import bulk_images, make_image

pytestmark = pytest.mark.django_db


def tile_ids(response) -> list[int]:
    return [
        int(pk)
        for pk in re.findall(r'class="tile-link" href="/images/(\d+)/', response.content.decode())
    ]


def link(response, rel_text: str) -> str:
    """The href of the pager link with this text."""
    html = response.content.decode()
    pager = html[html.index('id="pager"') :]
    found = re.search(r'<a href="([^"]+)"[^>]*>' + rel_text + "</a>", pager)
    return found.group(1).replace("&amp;", "&") if found else ""


def test_anonymous_visitors_reach_no_gallery_page_or_image_url(client, alice):
    image = make_image(alice)
    for url in ["/", "/?q=kite", f"/images/{image.pk}/", f"/images/{image.pk}/download/",
                f"/images/{image.pk}/lightbox/", f"/images/{image.pk}/delete/"]:  # fmt: skip
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.post(f"/images/{image.pk}/favourite/").status_code == 302
    assert "X-Amz-Signature" not in client.get("/", follow=True).content.decode()


def test_every_member_sees_every_image_but_hidden_ones(alice_client, alice, bob):
    mine, theirs = make_image(alice), make_image(bob)
    hidden = make_image(bob, is_hidden=True)
    ids = tile_ids(alice_client.get("/?view=flat"))
    assert mine.pk in ids and theirs.pk in ids and hidden.pk not in ids


def test_tiles_keep_their_aspect_ratio_and_placeholder_colour(alice_client, alice):
    make_image(alice, width=1512, height=648)
    html = alice_client.get("/").content.decode()
    assert 'class="tile r233' in html  # 1512/648 = 2.33: its flex share
    assert 'width="384" height="165"' in html  # the box is reserved before the thumbnail loads
    assert 'fill="#336699"' in html and 'loading="lazy"' in html
    assert "style=" not in html.split("<main")[1]  # nothing a strict CSP would block


def test_filters_combine_and_show_as_chips_that_clear_one_at_a_time(alice_client, alice, bob):
    wide = make_image(alice, width=1512, height=648, watermark=True)
    make_image(alice, width=720, height=1280, watermark=True)
    make_image(bob, width=1512, height=648, watermark=True)
    make_image(alice, width=1512, height=648, watermark=False)
    response = alice_client.get("/?who=mine&orientation=landscape&watermark=on&view=flat")
    assert tile_ids(response) == [wide.pk]
    html = response.content.decode()
    assert "Whose: Mine" in html and "Orientation: Landscape" in html
    clear_whose = re.search(r'href="(/\?[^"]*)" title="Clear">Whose', html).group(1)
    assert "who=" not in clear_whose and "orientation=landscape" in clear_whose


def test_member_size_model_and_date_filters(alice_client, alice, bob):
    old = make_image(bob, width=864, height=1152, created_at=timezone.now() - timedelta(days=40))
    make_image(bob, width=1024, height=1024)
    make_image(alice, width=864, height=1152)
    day = old.created_at.date()
    url = f"/?member=bob&size=864x1152&model=doubao-seedream-3-0-t2i-250415&date_from={day}&date_to={day}"
    assert tile_ids(alice_client.get(url)) == [old.pk]


def test_favourites_only_lists_the_members_own_favourites(alice_client, alice, bob):
    liked, other = make_image(bob), make_image(bob)
    Favourite.objects.create(user=alice, image=liked)
    Favourite.objects.create(user=bob, image=other)
    assert tile_ids(alice_client.get("/?fav=1")) == [liked.pk]


def test_a_batch_shows_as_one_stack_with_its_count_until_flattened(alice_client, alice):
    first = make_image(alice, prompt="a fox")
    for _ in range(3):
        make_image(alice, prompt="a fox", batch=first.generation.batch)
    single = make_image(alice, prompt="a hen")
    stacked = alice_client.get("/")
    assert tile_ids(stacked) == [single.pk, first.pk]  # the stack links to its first image
    assert "4 images" in stacked.content.decode()
    assert len(tile_ids(alice_client.get("/?view=flat"))) == 5
    assert len(tile_ids(alice_client.get("/?q=fox"))) == 4  # search results are flat


def test_keyset_pages_walk_older_and_back_newer_without_gaps(alice_client, alice, bob):
    images = bulk_images([alice, bob], 25)
    newest_first = [image.pk for image in images]  # bulk_images goes back a minute each
    first = alice_client.get("/?view=flat&per_page=10")
    assert tile_ids(first) == newest_first[:10] and link(first, "Newer") == ""
    second = alice_client.get("/" + link(first, "Older"))
    assert tile_ids(second) == newest_first[10:20]
    assert "view=flat" in link(second, "Older") and "per_page=10" in link(second, "Older")
    third = alice_client.get("/" + link(second, "Older"))
    assert tile_ids(third) == newest_first[20:] and link(third, "Older") == ""
    back = alice_client.get("/" + link(third, "Newer"))
    assert tile_ids(back) == newest_first[10:20]
    assert "OFFSET" not in str(back.context.get("images", ""))


def test_oldest_first_reverses_the_order(alice_client, alice):
    images = bulk_images([alice], 5)
    assert tile_ids(alice_client.get("/?view=flat&sort=oldest")) == [i.pk for i in images][::-1]


def test_infinite_scroll_asks_for_the_next_tiles_and_moves_the_older_link(alice_client, alice):
    bulk_images([alice], 6)
    first = alice_client.get("/?view=flat&per_page=3")
    more = re.search(r'hx-get="([^"]+)" hx-trigger="revealed"', first.content.decode())
    assert more, "the last tile row asks for the next page when revealed"
    partial = alice_client.get(more.group(1).replace("&amp;", "&"), HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert "<html" not in html and len(tile_ids(partial)) == 3
    assert 'id="pager" aria-label="Pages" hx-swap-oob="true"' in html
    assert "HX-Request" in partial["Vary"]


@pytest.mark.parametrize(
    "query, message",
    [
        ("date_from=2026-13-45", "Enter a valid date."),
        ("date_from=2026-05-02&date_to=2026-05-01", "end date comes before"),
        ("sort=sideways", "Select a valid choice."),
        ("model=dall-e-3", "Unknown model."),
        ("orientation=round", "Select a valid choice."),
        ("size=big", "Size must look like"),
        ("member=nobody", "no member called nobody"),
        ("per_page=100000", "Per page must be between 1 and 100."),
        ("per_page=-5", "Per page must be between 1 and 100."),
        ("per_page=ten", "Enter a whole number."),
        ("after=forged.cursor.value", "page link is damaged"),
        ("after=" + "x" * 500, "at most 200 characters"),
        ("q=" + "a" * 10_000, "at most 200 characters"),
        ("watermark=maybe", "Select a valid choice."),
    ],
)
def test_malformed_filter_values_answer_400_with_the_reason(alice_client, alice, query, message):
    make_image(alice)
    response = alice_client.get(f"/?{query}")
    assert response.status_code == 400
    assert message in response.content.decode()


def test_a_stale_cursor_of_a_deleted_image_still_pages_on(alice_client, alice):
    images = bulk_images([alice], 6)
    first = alice_client.get("/?view=flat&per_page=3")
    older = link(first, "Older")
    images[2].delete()  # the cursor's own image is gone
    assert tile_ids(alice_client.get("/" + older)) == [i.pk for i in images[3:6]]


def test_a_cursor_signed_for_another_purpose_is_refused(alice_client, alice):
    from django.core import signing

    make_image(alice)
    forged = signing.dumps(["2026-01-01T00:00:00+00:00", 1], salt="another.salt")
    assert alice_client.get(f"/?after={forged}").status_code == 400


def test_filter_values_survive_into_tile_links_for_previous_and_next(alice_client, alice):
    make_image(alice, prompt="a red kite")
    response = alice_client.get("/?q=kite&who=mine")
    href = re.search(r'class="tile-link" href="([^"]+)"', response.content.decode()).group(1)
    assert parse_qs(urlsplit(href.replace("&amp;", "&")).query) == {"q": ["kite"], "who": ["mine"]}


@pytest.mark.parametrize("rows", [100, 1000])
@pytest.mark.parametrize(
    "query",
    [
        "",
        "who=mine&orientation=landscape&watermark=off&sort=oldest",
        "view=flat",
        "q=lighthouse",
        "q=ighthou",
        "q=橘猫",
        "fav=1&view=flat",
    ],  # fmt: skip
)
def test_gallery_pages_take_a_constant_number_of_queries(
    alice_client, alice, bob, rows, query, django_assert_num_queries
):
    images = bulk_images([alice, bob], rows)
    Favourite.objects.bulk_create([Favourite(user=alice, image=image) for image in images[::7]])
    stacked = "view=flat" not in query and "q=" not in query
    # session, user, the page of images (with owners), the stack sizes when stacked, the
    # selection bar's collections, and the navigation's running-jobs count and saved searches
    with django_assert_num_queries(7 if stacked else 6):
        response = alice_client.get(f"/?{query}")
    assert response.status_code == 200 and tile_ids(response)


def test_a_page_deep_in_the_gallery_takes_the_same_queries(
    alice_client, alice, django_assert_num_queries
):
    bulk_images([alice], 1000)
    page = alice_client.get("/?view=flat&per_page=100")
    for _ in range(8):
        page = alice_client.get("/" + link(page, "Older"))
    with django_assert_num_queries(6):  # as above, with the selection bar's collections
        deep = alice_client.get("/" + link(page, "Older"))
    assert len(tile_ids(deep)) == 100
