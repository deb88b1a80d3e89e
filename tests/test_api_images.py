"""GET /api/images with the grid's filters, sort and signed keyset cursors (one form, one
selector: gallery.forms.GalleryFilterForm and gallery.queries.gallery_page), and favourites
set and unset through POST/DELETE /api/images/{id}/favourite."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from gallery import queries
from gallery.forms import GalleryFilterForm
from gallery.models import Favourite
from tests.images import MODEL, bulk_images, make_image

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _redis(redis_url):
    """The per-token rate limit counts in Redis."""


def day(n: int) -> datetime:
    return datetime(2026, 1, n, 12, tzinfo=UTC)


@pytest.fixture
def three(alice, bob):
    """Three images that each filter tells apart; alice likes the lighthouse at dawn."""
    cat = make_image(alice, prompt="a ginger cat", width=1512, height=648, watermark=True,
                     created_at=day(10))  # fmt: skip
    tower = make_image(bob, prompt="a lighthouse", width=720, height=1280, created_at=day(12))
    dawn = make_image(alice, prompt="a lighthouse at dawn", created_at=day(14))
    Favourite.objects.create(user=alice, image=dawn)
    return {"cat": cat, "tower": tower, "dawn": dawn}


def listed(api, query) -> list[int]:
    response = api.get("/api/images", query)
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def assert_api_error(response, status: int, code: str, field=None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert error["message"]
    return error


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({}, ["dawn", "tower", "cat"]),
        ({"q": "lighthouse"}, ["dawn", "tower"]),
        ({"who": "mine"}, ["dawn", "cat"]),
        ({"member": "bob"}, ["tower"]),
        ({"model": MODEL}, ["dawn", "tower", "cat"]),
        ({"orientation": "landscape"}, ["cat"]),
        ({"orientation": "portrait"}, ["tower"]),
        ({"orientation": "square"}, ["dawn"]),
        ({"size": "720x1280"}, ["tower"]),
        ({"date_from": "2026-01-12"}, ["dawn", "tower"]),
        ({"date_to": "2026-01-12"}, ["tower", "cat"]),
        ({"date_from": "0001-01-01", "date_to": "9999-12-31"}, ["dawn", "tower", "cat"]),
        ({"fav": "true"}, ["dawn"]),
        ({"fav": "false"}, ["dawn", "tower", "cat"]),
        ({"watermark": "on"}, ["cat"]),
        ({"watermark": "off"}, ["dawn", "tower"]),
        ({"sort": "oldest"}, ["cat", "tower", "dawn"]),
        ({"sort": "newest"}, ["dawn", "tower", "cat"]),
        ({"view": "flat"}, ["dawn", "tower", "cat"]),
        ({"view": "stacked"}, ["dawn", "tower", "cat"]),
        # combined
        ({"q": "lighthouse", "who": "mine"}, ["dawn"]),
        ({"member": "alice", "watermark": "off", "sort": "oldest"}, ["dawn"]),
        (
            {"date_from": "2026-01-11", "date_to": "2026-01-13", "orientation": "portrait"},
            ["tower"],
        ),  # fmt: skip
        ({"fav": "true", "orientation": "landscape"}, []),
    ],
)
def test_each_grid_filter_narrows_the_api_list(api, three, query, names):
    assert listed(api, query) == [three[name].pk for name in names]


def test_the_last_day_there_is_as_date_to_is_no_bound_on_the_grid_either(client, alice, three):
    client.force_login(alice)
    response = client.get("/", {"date_to": "9999-12-31", "view": "flat"})
    assert response.status_code == 200
    assert f'href="/images/{three["cat"].pk}/' in response.content.decode()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"q": "x" * 201}, "q"),
        ({"who": "theirs"}, "who"),
        ({"member": "nobody"}, "member"),
        ({"model": "dall-e-3"}, "model"),
        ({"orientation": "round"}, "orientation"),
        ({"size": "big"}, "size"),
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_to": "2026-13-01"}, "date_to"),
        ({"date_from": "2026-01-12", "date_to": "2026-01-10"}, "date_to"),
        ({"fav": "maybe"}, "fav"),
        ({"watermark": "maybe"}, "watermark"),
        ({"sort": "random"}, "sort"),
        ({"view": "tiles"}, "view"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
    ],
)
def test_a_bad_filter_value_is_400_naming_it(api, query, field):
    assert_api_error(api.get("/api/images", query), 400, "invalid_parameter", field)


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        # the old unsigned API cursor, and a signed-looking one with a changed signature
        "MjAyNi0wMS0xMlQxMjowMDowMCswMDowMHwx",
        "WyIyMDI2LTAxLTEyVDEyOjAwOjAwKzAwOjAwIiwxXQ:1vOrged:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_a_forged_cursor_is_400(api, three, cursor):
    error = assert_api_error(api.get("/api/images", {"cursor": cursor}), 400,
                             "invalid_parameter", "cursor")  # fmt: skip
    assert error["message"].startswith("cursor: ")


@pytest.mark.parametrize(
    ("query", "grid_query"),
    [({}, {"view": "flat"}), ({"sort": "oldest"}, {"sort": "oldest", "view": "flat"}),
     ({"view": "stacked", "who": "mine"}, {"who": "mine"})],
)  # fmt: skip
def test_paging_with_next_cursor_follows_the_grids_order(api, alice, bob, query, grid_query):
    bulk_images([alice, bob], 20, start=day(20))
    browser = Client()
    browser.force_login(alice)
    seen, cursor, grid_next = [], None, None
    while True:
        paging = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/images", {**query, **paging}).json()
        ids = [item["id"] for item in page["items"]]
        if grid_next is not None:  # the grid's page after the same cursor starts here too
            assert f'href="/images/{ids[0]}/' in grid_next
        seen += ids
        if page["next_cursor"] is None:
            break
        assert page["next_cursor"] != cursor
        cursor = page["next_cursor"]
        # the grid takes the API's cursor as its own `after`
        grid = browser.get("/", {**grid_query, "per_page": 3, "after": cursor})
        assert grid.status_code == 200
        grid_next = grid.content.decode()
    form = GalleryFilterForm(grid_query, user=alice)
    assert form.is_valid(), form.errors
    whole = queries.gallery_page(alice, form.filters(), per_page=100).images
    assert seen == [image.pk for image in whole]
    assert len(seen) == len(set(seen)) > 3


def test_stacked_view_lists_a_batch_once_with_its_count(api, alice):
    batch_rows = bulk_images([alice], 3, start=day(20))  # one batch of three
    single = make_image(alice, created_at=day(21))
    items = api.get("/api/images", {"view": "stacked"}).json()["items"]
    assert [(item["id"], item["stack_count"]) for item in items] == [
        (single.pk, 1), (min(row.pk for row in batch_rows), 3)]  # fmt: skip
    flat = api.get("/api/images").json()["items"]
    assert len(flat) == 4 and {item["stack_count"] for item in flat} == {None}


@pytest.mark.parametrize(
    "query", [{}, {"member": "bob"}, {"view": "stacked"}, {"q": "kite"}, {"size": "1024x1024"}]
)
def test_another_members_hidden_image_is_never_listed(api, bob, query):
    shown = make_image(bob, prompt="a kite", created_at=day(3))
    make_image(bob, prompt="a kite", is_hidden=True, created_at=day(4))
    assert listed(api, query) == [shown.pk]


def test_is_favourite_is_on_each_item_and_the_detail(api, three):
    items = {item["id"]: item["is_favourite"] for item in api.get("/api/images").json()["items"]}
    assert items == {three["dawn"].pk: True, three["tower"].pk: False, three["cat"].pk: False}
    assert api.get(f"/api/images/{three['dawn'].pk}").json()["is_favourite"] is True
    assert api.get(f"/api/images/{three['cat'].pk}").json()["is_favourite"] is False


@pytest.mark.parametrize("rows", [10, 100])
def test_listing_takes_the_same_queries_at_10_and_100_rows(api, alice, bob, rows,
                                                           django_assert_num_queries):  # fmt: skip
    images = bulk_images([alice, bob], rows, start=day(20))
    Favourite.objects.bulk_create(Favourite(user=alice, image=image) for image in images[::2])
    api.get("/api/images")  # the token's last-used time is written once a minute, here
    query = {"member": "alice", "view": "stacked", "watermark": "on", "limit": 100}
    # the token, the member named, the page (owners, favourites), the stack counts, the tags
    with django_assert_num_queries(5):
        page = api.get("/api/images", query).json()
    assert page["items"] and any(item["is_favourite"] for item in page["items"])
    with django_assert_num_queries(3):  # flat: the token, the page, its tags
        assert len(api.get("/api/images", {"limit": 100}).json()["items"]) == rows


# --- Favourites -----------------------------------------------------------------


def test_favourite_set_and_unset_are_idempotent(api, alice, three):
    image = three["tower"]
    path = f"/api/images/{image.pk}/favourite"
    for _ in range(2):
        response = api.post(path)
        assert response.status_code == 200, response.content
        assert response.json() == {"image_id": image.pk, "is_favourite": True}
        assert Favourite.objects.filter(user=alice, image=image).count() == 1
    assert api.get(f"/api/images/{image.pk}").json()["is_favourite"] is True
    assert listed(api, {"fav": "true"}) == [three["dawn"].pk, image.pk]
    for _ in range(2):
        response = api.delete(path)
        assert response.status_code == 200, response.content
        assert response.json() == {"image_id": image.pk, "is_favourite": False}
        assert not Favourite.objects.filter(user=alice, image=image).exists()
    assert Favourite.objects.filter(user=alice, image=three["dawn"]).exists()


def test_favourites_are_per_member(api, bob, three):
    api.post(f"/api/images/{three['cat'].pk}/favourite")
    assert not Favourite.objects.filter(user=bob).exists()


@pytest.mark.parametrize("method", ["post", "delete"])
@pytest.mark.parametrize("hidden", [True, False])
def test_favouriting_an_unknown_or_hidden_image_is_404(api, bob, method, hidden):
    image = make_image(bob, is_hidden=hidden)
    image_id = image.pk if hidden else image.pk + 1000
    response = getattr(api, method)(f"/api/images/{image_id}/favourite")
    assert_api_error(response, 404, "not_found")
    assert not Favourite.objects.exists()


@pytest.mark.parametrize("method", ["post", "delete"])
def test_favouriting_without_a_token_is_401(client, three, method):
    response = getattr(client, method)(f"/api/images/{three['cat'].pk}/favourite")
    assert_api_error(response, 401, "not_authenticated")
    assert Favourite.objects.count() == 1


def test_listing_without_a_token_is_401(client, three):
    assert_api_error(client.get("/api/images", {"who": "mine"}), 401, "not_authenticated")
