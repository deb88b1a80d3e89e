"""The JSON API's organising endpoints: an image's visibility and tags, tag suggestions,
collections and their images, share links. Each goes through the gallery's own services, so
these tests check the API's parsing, its status codes and its one error shape; the rules
themselves are tested with the services."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gallery.models import Collection, CollectionItem, Image, ShareLink
from gallery.services import collections as collection_service
from gallery.services import sharing
from gallery.services import tags as tag_service
from tests.test_api_json import assert_api_error, make_image

pytestmark = pytest.mark.django_db

HUGE = 2**63  # past any id the database can hold


@pytest.fixture(autouse=True)
def _redis(redis_url):
    """The per-token rate limit counts in Redis."""


def send(client, method, path, body):
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def pics(alice, bob):
    """alice's team image, bob's team image (visible, not alice's), bob's private image."""
    return {
        "mine": make_image(alice, 1),
        "bobs": make_image(bob, 2),
        "private": make_image(bob, 3, visibility="private"),
    }


# --- Image visibility and tags in the output ---------------------------------------


def test_detail_and_list_show_visibility_and_tags(api, alice, pics):
    tag_service.add_tags(alice, [pics["mine"]], ["Sky", "kite"])
    detail = api.get(f"/api/images/{pics['mine'].pk}").json()
    assert (detail["visibility"], detail["tags"]) == ("team", ["kite", "sky"])
    items = {item["id"]: item for item in api.get("/api/images").json()["items"]}
    assert items[pics["mine"].pk]["tags"] == ["kite", "sky"]
    assert items[pics["bobs"].pk]["tags"] == []
    assert pics["private"].pk not in items


def test_patch_sets_the_visibility(api, pics):
    response = send(api, "patch", f"/api/images/{pics['mine'].pk}", {"visibility": "private"})
    assert response.status_code == 200, response.content
    assert response.json()["visibility"] == "private"
    assert Image.objects.get(pk=pics["mine"].pk).visibility == "private"


@pytest.mark.parametrize(
    "body, field",
    [({"visibility": "secret"}, "visibility"), ({"visibility": 3}, "visibility"),
     ({}, "visibility"), ({"visibility": "x" * 5000}, "visibility")],
)  # fmt: skip
def test_patch_with_a_bad_visibility_is_400_and_changes_nothing(api, pics, body, field):
    response = send(api, "patch", f"/api/images/{pics['mine'].pk}", body)
    assert_api_error(response, 400, "invalid_parameter", field)
    assert Image.objects.get(pk=pics["mine"].pk).visibility == "team"


@pytest.mark.parametrize("which, status", [("bobs", 403), ("private", 404)])
def test_patch_of_anothers_image_is_403_when_visible_and_404_when_not(api, pics, which, status):
    response = send(api, "patch", f"/api/images/{pics[which].pk}", {"visibility": "public"})
    assert_api_error(response, status, "forbidden" if status == 403 else "not_found")
    assert Image.objects.get(pk=pics[which].pk).visibility == pics[which].visibility


@pytest.mark.parametrize("image_id", ["0", str(HUGE), "999999"])
def test_patch_of_an_unknown_image_is_404(api, pics, image_id):
    response = send(api, "patch", f"/api/images/{image_id}", {"visibility": "public"})
    assert_api_error(response, 404, "not_found")


def test_patch_with_a_non_integer_id_is_400(api, pics):
    response = send(api, "patch", "/api/images/abc", {"visibility": "public"})
    assert_api_error(response, 400, "invalid_parameter", "image_id")


def test_staff_may_change_anyones_image_from_a_session_with_csrf(sam, pics):
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(sam)
    csrf_client.get("/")  # a page sets the CSRF cookie the browser then sends back
    token = csrf_client.cookies["csrftoken"].value
    response = csrf_client.patch(
        f"/api/images/{pics['private'].pk}", data=json.dumps({"visibility": "team"}),
        content_type="application/json", headers={"X-CSRFToken": token},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert Image.objects.get(pk=pics["private"].pk).visibility == "team"


def test_a_session_without_csrf_cannot_patch(alice, pics):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    response = browser.patch(
        f"/api/images/{pics['mine'].pk}", data=json.dumps({"visibility": "private"}),
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert Image.objects.get(pk=pics["mine"].pk).visibility == "team"


# --- Tag filters on the list -------------------------------------------------------


def test_tag_filters_list_images_carrying_every_tag(api, alice, bob, pics):
    tag_service.add_tags(alice, [pics["mine"]], ["sky", "kite"])
    tag_service.add_tags(bob, [pics["bobs"]], ["sky"])
    listed = lambda query: {item["id"] for item in api.get("/api/images", query).json()["items"]}  # noqa: E731
    assert listed({"tag": "Sky"}) == {pics["mine"].pk, pics["bobs"].pk}
    assert listed({"tag": ["sky", "kite"]}) == {pics["mine"].pk}
    assert listed({"tag": "nothing-has-this"}) == set()


def test_a_tag_only_on_anothers_private_image_lists_nothing(api, bob, pics):
    tag_service.add_tags(bob, [pics["private"]], ["secret"])
    assert api.get("/api/images", {"tag": "secret"}).json()["items"] == []


@pytest.mark.parametrize(
    "query, field",
    [({"tag": [f"t{n}" for n in range(11)]}, "tag"), ({"tag": "x" * 150}, "tag"),
     ({"collection": "abc"}, "collection"), ({"collection": "0"}, "collection"),
     ({"collection": str(HUGE)}, "collection"), ({"collection": "999999"}, "collection")],
)  # fmt: skip
def test_bad_tag_and_collection_filters_are_400_naming_them(api, pics, query, field):
    assert_api_error(api.get("/api/images", query), 400, "invalid_parameter", field)


def test_collection_filter_lists_its_images_and_refuses_a_private_one_of_anothers(
    api, alice, bob, pics
):
    mine = collection_service.create_collection(alice, "Kites")
    collection_service.add_images(alice, mine, [pics["mine"], pics["bobs"]])
    hidden = collection_service.create_collection(bob, "Bob's own", visibility="private")
    items = api.get("/api/images", {"collection": mine.pk, "sort": "added"}).json()["items"]
    assert {item["id"] for item in items} == {pics["mine"].pk, pics["bobs"].pk}
    response = api.get("/api/images", {"collection": hidden.pk})
    assert_api_error(response, 400, "invalid_parameter", "collection")


# --- Tags ----------------------------------------------------------------------------


def test_add_tags_normalises_and_answers_all_the_images_tags(api, alice, pics):
    tag_service.add_tags(alice, [pics["mine"]], ["old"])
    response = send(api, "post", f"/api/images/{pics['mine'].pk}/tags", {"tags": ["  Sky ", "sky"]})
    assert response.status_code == 200, response.content
    assert response.json() == {"image_id": pics["mine"].pk, "tags": ["old", "sky"]}


@pytest.mark.parametrize(
    "body, field",
    [({"tags": []}, "tags"), ({"tags": ["   "]}, "tags"), ({"tags": "sky"}, "tags"),
     ({"tags": [1]}, "tags"), ({}, "tags"), ({"tags": ["x" * 150]}, "tags"),
     ({"tags": [f"t{n}" for n in range(21)]}, "tags")],
)  # fmt: skip
def test_bad_tags_are_400_and_tag_nothing(api, pics, body, field):
    response = send(api, "post", f"/api/images/{pics['mine'].pk}/tags", body)
    assert_api_error(response, 400, "invalid_parameter", field)
    assert not pics["mine"].tags.exists()


@pytest.mark.parametrize("which, status", [("bobs", 403), ("private", 404)])
def test_tagging_anothers_image_is_403_when_visible_and_404_when_not(api, pics, which, status):
    response = send(api, "post", f"/api/images/{pics[which].pk}/tags", {"tags": ["mine"]})
    assert response.status_code == status
    assert not pics[which].tags.exists()


@pytest.mark.parametrize("image_id", ["999999", str(HUGE)])
def test_tagging_an_unknown_image_is_404(api, pics, image_id):
    response = send(api, "post", f"/api/images/{image_id}/tags", {"tags": ["sky"]})
    assert_api_error(response, 404, "not_found")


def test_remove_a_tag(api, alice, pics):
    tag_service.add_tags(alice, [pics["mine"]], ["sky", "kite"])
    response = api.delete(f"/api/images/{pics['mine'].pk}/tags/Sky")
    assert response.status_code == 200, response.content
    assert response.json()["tags"] == ["kite"]
    again = api.delete(f"/api/images/{pics['mine'].pk}/tags/sky")  # not on it: nothing changes
    assert again.json()["tags"] == ["kite"]


def test_a_tag_with_a_slash_can_be_removed(api, alice, pics):
    tag_service.add_tags(alice, [pics["mine"]], ["black/white", "sky"])
    response = api.delete(f"/api/images/{pics['mine'].pk}/tags/black%2Fwhite")
    assert response.status_code == 200, response.content
    assert response.json()["tags"] == ["sky"]


def test_removing_an_overlong_or_blank_tag_is_400(api, pics):
    assert_api_error(
        api.delete(f"/api/images/{pics['mine'].pk}/tags/{'x' * 300}"), 400,
        "invalid_parameter", "name",
    )  # fmt: skip
    assert_api_error(
        api.delete(f"/api/images/{pics['mine'].pk}/tags/%20"), 400, "invalid_parameter", "name"
    )


@pytest.mark.parametrize("which, status", [("bobs", 403), ("private", 404)])
def test_untagging_anothers_image_is_refused(api, bob, pics, which, status):
    tag_service.add_tags(bob, [pics[which]], ["sky"])
    assert api.delete(f"/api/images/{pics[which].pk}/tags/sky").status_code == status
    assert list(pics[which].tags.names()) == ["sky"]


def test_suggestions_come_only_from_images_you_may_see(api, alice, bob, pics):
    tag_service.add_tags(alice, [pics["mine"]], ["sky", "skate"])
    tag_service.add_tags(bob, [pics["private"]], ["skunk-secret"])
    assert api.get("/api/tags", {"prefix": "SK"}).json() == {"tags": ["skate", "sky"]}
    assert api.get("/api/tags", {"prefix": ""}).json() == {"tags": []}


def test_an_overlong_prefix_is_400(api):
    assert_api_error(
        api.get("/api/tags", {"prefix": "x" * 201}), 400, "invalid_parameter", "prefix"
    )


def test_tags_need_a_token(client, pics):
    assert_api_error(client.get("/api/tags", {"prefix": "s"}), 401, "not_authenticated")


# --- Collections -------------------------------------------------------------------


@pytest.fixture
def albums(alice, bob):
    return {
        "mine": collection_service.create_collection(alice, "Mine"),
        "team": collection_service.create_collection(bob, "Team, closed"),
        "open": collection_service.create_collection(bob, "Team, open", team_can_add=True),
        "private": collection_service.create_collection(bob, "Bob's", visibility="private"),
    }


def test_list_shows_yours_and_the_teams_not_anothers_private(api, albums):
    items = api.get("/api/collections").json()["items"]
    assert {item["name"]: item["can_add"] for item in items} == {
        "Mine": True, "Team, closed": False, "Team, open": True,
    }  # fmt: skip
    assert api.get(f"/api/collections/{albums['team'].pk}").json()["can_add"] is False
    assert api.get(f"/api/collections/{albums['open'].pk}").json()["can_add"] is True


def test_list_pages_by_cursor(api, alice):
    for n in range(5):
        collection_service.create_collection(alice, f"c{n}")
    first = api.get("/api/collections", {"limit": 3}).json()
    second = api.get("/api/collections", {"limit": 3, "cursor": first["next_cursor"]}).json()
    names = [item["name"] for item in first["items"] + second["items"]]
    assert sorted(names) == [f"c{n}" for n in range(5)] and second["next_cursor"] is None


def test_create_then_read(api, alice):
    body = {"name": "  Kites  ", "description": "red ones", "visibility": "private"}
    response = send(api, "post", "/api/collections", body)
    assert response.status_code == 201, response.content
    made = response.json()
    assert (made["name"], made["visibility"], made["owner"]) == ("Kites", "private", "alice")
    assert api.get(f"/api/collections/{made['id']}").json()["name"] == "Kites"


@pytest.mark.parametrize(
    "body, field",
    [({}, "name"), ({"name": ""}, "name"), ({"name": "x" * 101}, "name"),
     ({"name": 5}, "name"), ({"name": "a\x00b"}, "name"),
     ({"name": "ok", "description": "x" * 2001}, "description"),
     ({"name": "ok", "visibility": "public"}, "visibility"),
     ({"name": "ok", "team_can_add": "maybe"}, "team_can_add")],
)  # fmt: skip
def test_bad_collection_fields_are_400_naming_them(api, alice, body, field):
    response = send(api, "post", "/api/collections", body)
    assert_api_error(response, 400, "invalid_parameter", field)
    assert not Collection.objects.exists()


def test_patch_changes_only_what_is_given(api, albums):
    response = send(api, "patch", f"/api/collections/{albums['mine'].pk}", {"name": "Renamed",
                                                                              "description": None})  # fmt: skip
    assert response.status_code == 200, response.content
    album = Collection.objects.get(pk=albums["mine"].pk)
    assert (album.name, album.visibility) == ("Renamed", "team")


def test_an_empty_patch_changes_nothing(api, albums):
    before = Collection.objects.get(pk=albums["mine"].pk).updated_at
    response = send(api, "patch", f"/api/collections/{albums['mine'].pk}", {})
    assert response.status_code == 200 and response.json()["name"] == "Mine"
    assert Collection.objects.get(pk=albums["mine"].pk).updated_at == before
    others = send(api, "patch", f"/api/collections/{albums['team'].pk}", {})
    assert others.status_code == 403  # not yours, even to change nothing


def test_patch_with_a_bad_field_is_400(api, albums):
    response = send(api, "patch", f"/api/collections/{albums['mine'].pk}", {"visibility": "x"})
    assert_api_error(response, 400, "invalid_parameter", "visibility")


@pytest.mark.parametrize("body", [[], ["name"], "Renamed", 5, None])
def test_a_patch_body_that_is_no_object_is_400_not_an_empty_patch(api, albums, body):
    response = send(api, "patch", f"/api/collections/{albums['mine'].pk}", body)
    assert_api_error(response, 400, "invalid_parameter", "body")


@pytest.mark.parametrize("which, status", [("team", 403), ("open", 403), ("private", 404)])
def test_changing_or_deleting_anothers_collection_is_refused(api, albums, which, status):
    pk = albums[which].pk
    assert send(api, "patch", f"/api/collections/{pk}", {"name": "mine now"}).status_code == status
    assert api.delete(f"/api/collections/{pk}").status_code == status
    assert Collection.objects.get(pk=pk).name == albums[which].name


@pytest.mark.parametrize("pk", ["999999", str(HUGE), "0"])
def test_an_unknown_collection_is_404(api, albums, pk):
    assert_api_error(api.get(f"/api/collections/{pk}"), 404, "not_found")
    assert_api_error(api.delete(f"/api/collections/{pk}"), 404, "not_found")


def test_delete_keeps_the_images(api, alice, albums, pics):
    collection_service.add_images(alice, albums["mine"], [pics["mine"]])
    assert api.delete(f"/api/collections/{albums['mine'].pk}").status_code == 204
    assert not Collection.objects.filter(pk=albums["mine"].pk).exists()
    assert Image.objects.filter(pk=pics["mine"].pk).exists()


def test_add_and_remove_images(api, albums, pics):
    path = f"/api/collections/{albums['mine'].pk}/images"
    ids = [pics["mine"].pk, pics["bobs"].pk]
    assert send(api, "post", path, {"image_ids": ids}).json()["changed"] == 2
    assert send(api, "post", path, {"image_ids": ids}).json()["changed"] == 0  # already in
    removed = api.delete(f"{path}/{pics['bobs'].pk}")
    assert removed.status_code == 200 and removed.json()["changed"] == 1
    assert list(CollectionItem.objects.values_list("image_id", flat=True)) == [pics["mine"].pk]


def test_a_forged_image_id_refuses_the_whole_request(api, albums, pics):
    path = f"/api/collections/{albums['mine'].pk}/images"
    for forged in (pics["private"].pk, 999999):
        response = send(api, "post", path, {"image_ids": [pics["mine"].pk, forged]})
        assert_api_error(response, 404, "not_found", "image_ids")
    assert not CollectionItem.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [({}, "image_ids"), ({"image_ids": []}, "image_ids"), ({"image_ids": "1"}, "image_ids"),
     ({"image_ids": ["x"]}, "image_ids"), ({"image_ids": [0]}, "image_ids"),
     ({"image_ids": [HUGE]}, "image_ids"),
     ({"image_ids": list(range(1, 2000))}, "image_ids")],
)  # fmt: skip
def test_bad_image_ids_are_400(api, albums, body, field, settings):
    response = send(api, "post", f"/api/collections/{albums['mine'].pk}/images", body)
    assert_api_error(response, 400, "invalid_parameter", field)


@pytest.mark.parametrize("which, status", [("team", 403), ("private", 404)])
def test_adding_to_anothers_closed_collection_is_refused(api, albums, pics, which, status):
    path = f"/api/collections/{albums[which].pk}/images"
    assert send(api, "post", path, {"image_ids": [pics["mine"].pk]}).status_code == status
    assert api.delete(f"{path}/{pics['mine'].pk}").status_code == status
    assert not CollectionItem.objects.exists()


def test_the_team_may_add_to_an_open_collection(api, albums, pics):
    path = f"/api/collections/{albums['open'].pk}/images"
    assert send(api, "post", path, {"image_ids": [pics["mine"].pk]}).json()["changed"] == 1


def test_removing_an_unseen_image_is_404(api, albums, pics):
    path = f"/api/collections/{albums['mine'].pk}/images"
    assert api.delete(f"{path}/{pics['private'].pk}").status_code == 404
    assert api.delete(f"{path}/{HUGE}").status_code == 404


# --- A collection's cover --------------------------------------------------------


def csrf_session(user) -> tuple[Client, str]:
    """A browser logged in as the user, that enforces CSRF, and its CSRF token."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    browser.get("/")  # a page sets the CSRF cookie the browser then sends back
    return browser, browser.cookies["csrftoken"].value


@pytest.fixture
def covered(alice, albums, pics):
    """alice's collection holding her image and bob's team image."""
    collection_service.add_images(alice, albums["mine"], [pics["mine"], pics["bobs"]])
    return albums["mine"]


def test_patch_picks_the_cover_and_every_answer_shows_it(api, covered, pics):
    path = f"/api/collections/{covered.pk}"
    response = send(api, "patch", path, {"cover_image_id": pics["bobs"].pk})
    assert response.status_code == 200, response.content
    assert response.json()["cover_image_id"] == pics["bobs"].pk
    assert Collection.objects.get(pk=covered.pk).cover_id == pics["bobs"].pk
    assert api.get(path).json()["cover_image_id"] == pics["bobs"].pk
    listed = {item["id"]: item for item in api.get("/api/collections").json()["items"]}
    assert listed[covered.pk]["cover_image_id"] == pics["bobs"].pk


def test_a_null_cover_goes_back_to_the_newest_added(api, alice, covered, pics):
    collection_service.set_cover(alice, covered, pics["mine"])
    response = send(api, "patch", f"/api/collections/{covered.pk}", {"cover_image_id": None})
    assert response.status_code == 200, response.content
    assert response.json()["cover_image_id"] is None
    assert Collection.objects.get(pk=covered.pk).cover_id is None


def test_a_cover_absent_from_the_patch_stays(api, alice, covered, pics):
    collection_service.set_cover(alice, covered, pics["mine"])
    response = send(api, "patch", f"/api/collections/{covered.pk}", {"name": "Renamed"})
    assert response.json()["cover_image_id"] == pics["mine"].pk
    assert Collection.objects.get(pk=covered.pk).cover_id == pics["mine"].pk


def test_name_and_cover_change_together(api, covered, pics):
    body = {"name": "Kites", "cover_image_id": pics["mine"].pk}
    made = send(api, "patch", f"/api/collections/{covered.pk}", body).json()
    assert (made["name"], made["cover_image_id"]) == ("Kites", pics["mine"].pk)


@pytest.mark.parametrize(
    "cover", ["abc", 0, -1, HUGE, 1.5, [1], {"id": 1}],
)  # fmt: skip
def test_a_cover_id_that_is_no_id_is_400(api, covered, cover):
    response = send(api, "patch", f"/api/collections/{covered.pk}", {"cover_image_id": cover})
    assert_api_error(response, 400, "invalid_parameter", "cover_image_id")
    assert Collection.objects.get(pk=covered.pk).cover_id is None


def test_an_image_not_in_the_collection_cannot_be_its_cover(api, alice, covered):
    outside = make_image(alice, 9)
    body = {"name": "Not saved", "cover_image_id": outside.pk}
    response = send(api, "patch", f"/api/collections/{covered.pk}", body)
    assert_api_error(response, 400, "invalid_parameter", "cover_image_id")
    album = Collection.objects.get(pk=covered.pk)
    assert (album.cover_id, album.name) == (None, "Mine")  # all the changes or none


@pytest.mark.parametrize("which", ["private", "hidden", "unknown"])
def test_a_cover_you_cannot_see_is_404_naming_the_field(api, covered, pics, which):
    image_id = {"private": pics["private"].pk, "hidden": pics["mine"].pk, "unknown": 999999}[which]
    if which == "hidden":  # in the collection, then hidden by moderation
        Image.objects.filter(pk=image_id).update(is_hidden=True)
    response = send(api, "patch", f"/api/collections/{covered.pk}", {"cover_image_id": image_id})
    assert_api_error(response, 404, "not_found", "cover_image_id")
    assert Collection.objects.get(pk=covered.pk).cover_id is None


@pytest.mark.parametrize("which, status", [("team", 403), ("open", 403), ("private", 404)])
def test_the_cover_of_anothers_collection_is_refused(api, bob, albums, pics, which, status):
    collection_service.add_images(bob, albums[which], [pics["bobs"]])
    path = f"/api/collections/{albums[which].pk}"
    for cover in (pics["bobs"].pk, None):
        response = send(api, "patch", path, {"cover_image_id": cover})
        assert_api_error(response, status, "forbidden" if status == 403 else "not_found")
    assert Collection.objects.get(pk=albums[which].pk).cover_id is None


def test_a_cover_the_reader_cannot_see_is_answered_as_null(api, bob, albums, pics):
    collection_service.add_images(bob, albums["team"], [pics["private"], pics["bobs"]])
    collection_service.set_cover(bob, albums["team"], pics["private"])
    assert api.get(f"/api/collections/{albums['team'].pk}").json()["cover_image_id"] is None
    listed = {item["id"]: item for item in api.get("/api/collections").json()["items"]}
    assert listed[albums["team"].pk]["cover_image_id"] is None
    bobs_view = Client()
    bobs_view.force_login(bob)
    detail = bobs_view.get(f"/api/collections/{albums['team'].pk}").json()
    assert detail["cover_image_id"] == pics["private"].pk


def test_a_session_sets_the_cover_with_csrf_and_not_without(alice, covered, pics):
    browser, token = csrf_session(alice)
    path, body = f"/api/collections/{covered.pk}", json.dumps({"cover_image_id": pics["mine"].pk})
    refused = browser.patch(path, data=body, content_type="application/json")
    assert_api_error(refused, 403, "csrf_failed")
    assert Collection.objects.get(pk=covered.pk).cover_id is None
    response = browser.patch(
        path, data=body, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 200, response.content
    assert Collection.objects.get(pk=covered.pk).cover_id == pics["mine"].pk


# --- Share links -------------------------------------------------------------------


def test_create_answers_the_url_once_and_it_opens(api, pics):
    body = {"image_id": pics["mine"].pk, "label": "for mum", "password": "",
            "allow_download": True}  # fmt: skip
    response = send(api, "post", "/api/links", body)
    assert response.status_code == 201, response.content
    made = response.json()
    assert made["url"].startswith("http://testserver/s/") and made["label"] == "for mum"
    token = made["url"].rstrip("/").rsplit("/", 1)[1]
    assert sharing.resolve(token).pk == made["id"]
    listed = api.get("/api/links").json()["items"]
    assert [item["id"] for item in listed] == [made["id"]]
    assert "url" not in listed[0] and token not in json.dumps(listed)
    assert Client().get(made["url"].replace("http://testserver", "")).status_code == 200


def test_create_a_collection_link_with_expiry_and_password(api, albums):
    expires = (timezone.now() + timedelta(days=3)).isoformat()
    body = {"collection_id": albums["mine"].pk, "expires_at": expires, "password": "s3cret!"}
    made = send(api, "post", "/api/links", body).json()
    link = ShareLink.objects.get(pk=made["id"])
    assert made["has_password"] and link.password_hash and link.expires_at is not None
    assert link.collection_id == albums["mine"].pk


@pytest.mark.parametrize(
    "body, status, field",
    [({}, 400, "image_id"),
     ({"image_id": "one"}, 400, "image_id"),
     ({"image_id": HUGE}, 400, "image_id"),
     ({"image_id": 999999}, 404, None),
     ({"collection_id": 999999}, 404, None),
     ({"image_id": "PICS", "collection_id": "ALBUM"}, 400, "image_id"),
     ({"image_id": "PICS", "label": "x" * 201}, 400, "label"),
     ({"image_id": "PICS", "password": "short"}, 400, "password"),
     ({"image_id": "PICS", "password": "x" * 129}, 400, "password"),
     ({"image_id": "PICS", "expires_at": "tomorrow"}, 400, "expires_at"),
     ({"image_id": "PICS", "expires_at": "2020-01-01T00:00:00Z"}, 400, "expires_at"),
     ({"image_id": "PICS", "expires_at": "2099-01-01T00:00:00"}, 400, "expires_at"),
     ({"image_id": "PICS", "expires_at": "2099-01-01T00:00:00Z"}, 400, "expires_at"),
     ({"image_id": "PICS", "allow_download": "perhaps"}, 400, "allow_download")],
)  # fmt: skip
def test_bad_link_input_is_refused_and_makes_no_link(api, albums, pics, body, status, field):
    ids = {"PICS": pics["mine"].pk, "ALBUM": albums["mine"].pk}
    body = {key: ids.get(value, value) if isinstance(value, str) else value
            for key, value in body.items()}  # fmt: skip
    response = send(api, "post", "/api/links", body)
    assert_api_error(
        response, status, "not_found" if status == 404 else response.json()["error"]["code"], field
    )
    assert not ShareLink.objects.exists()


def test_anothers_private_image_or_collection_cannot_be_shared(api, albums, pics):
    for body in ({"image_id": pics["private"].pk}, {"collection_id": albums["private"].pk}):
        assert_api_error(send(api, "post", "/api/links", body), 404, "not_found")
    assert not ShareLink.objects.exists()


def test_revoke_stops_the_link(api, alice, pics):
    made = send(api, "post", "/api/links", {"image_id": pics["mine"].pk}).json()
    response = api.delete(f"/api/links/{made['id']}")
    assert response.status_code == 200 and response.json()["revoked_at"]
    token = made["url"].rstrip("/").rsplit("/", 1)[1]
    assert sharing.resolve(token) is None
    assert api.delete(f"/api/links/{made['id']}").status_code == 200  # again: nothing changes


def test_anothers_link_is_404_and_not_listed(api, bob, pics):
    link, _token = sharing.create_link(user=bob, choices=sharing.LinkChoices(), image=pics["bobs"])
    assert api.get("/api/links").json()["items"] == []
    assert_api_error(api.delete(f"/api/links/{link.pk}"), 404, "not_found")
    assert ShareLink.objects.get(pk=link.pk).revoked_at is None


@pytest.mark.parametrize("pk", ["999999", str(HUGE), "0"])
def test_revoking_an_unknown_link_is_404(api, pk):
    assert_api_error(api.delete(f"/api/links/{pk}"), 404, "not_found")


def test_staff_see_and_revoke_every_members_links(client, sam, bob, pics, settings):
    from gallery.services import api_tokens

    link, _token = sharing.create_link(user=bob, choices=sharing.LinkChoices(), image=pics["bobs"])
    _row, secret = api_tokens.create(user=sam, name="staff")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    assert [item["id"] for item in client.get("/api/links").json()["items"]] == [link.pk]
    assert client.delete(f"/api/links/{link.pk}").status_code == 200
    assert ShareLink.objects.get(pk=link.pk).revoked_at is not None


def test_links_need_a_token(client, pics):
    assert_api_error(client.get("/api/links"), 401, "not_authenticated")
    response = send(client, "post", "/api/links", {"image_id": pics["mine"].pk})
    assert_api_error(response, 401, "not_authenticated")
