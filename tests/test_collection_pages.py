"""Collections in the pages: the list, create, edit, delete, a collection's page in the order
images were added, the collection filter, and adding from an image's page; bad input and
forged requests each answer the right status."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gallery.models import Collection, CollectionItem, Visibility
from gallery.services import collections as collection_service
from tests.images import bulk_images, make_image

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def tile_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'class="tile-link" href="/images/(\d+)/', response.content.decode())]  # fmt: skip


def test_create_from_the_list_page_and_land_on_the_collection(alice_client, alice):
    response = alice_client.post(
        "/collections/",
        {"name": "  Trip  ", "description": "sea", "visibility": "private", "team_can_add": "on"},
    )
    album = Collection.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/collections/{album.pk}/"
    assert (album.owner, album.name, album.visibility, album.team_can_add) == (
        alice,
        "Trip",
        "private",
        True,
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"name": ""},
        {"name": "x" * 101},
        {"name": "a\x00"},
        {"name": "ok", "visibility": "public"},
        {"name": "ok", "description": "d" * 2001},
    ],  # fmt: skip
)
def test_bad_collection_fields_answer_400_and_create_nothing(alice_client, fields):
    response = alice_client.post("/collections/", fields)
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert not Collection.objects.exists()


def test_the_list_shows_own_and_team_collections_with_a_visible_cover(alice_client, alice, bob):
    mine = collection_service.create_collection(alice, "Mine", visibility="private")
    team = collection_service.create_collection(bob, "Bob's team album")
    hidden = collection_service.create_collection(bob, "Bob's private", visibility="private")
    old = make_image(bob, created_at=timezone.now() - timedelta(days=1))
    secret = make_image(bob, visibility=Visibility.PRIVATE)
    collection_service.add_images(bob, team, [old])
    collection_service.add_images(bob, team, [secret])  # added last, but alice may not see it
    collection_service.set_cover(bob, team, secret)
    html = alice_client.get("/collections/").content.decode()
    assert mine.name in html and "Bob&#x27;s team album" in html and hidden.name not in html
    assert old.thumbnail_key in html and secret.thumbnail_key not in html
    assert "1 image" in html


def test_the_list_takes_a_constant_number_of_queries(
    alice_client, alice, bob, django_assert_num_queries
):
    images = bulk_images([alice], 10)
    for n in range(2):
        album = collection_service.create_collection(alice, f"A{n}")
        collection_service.add_images(alice, album, images)
    with django_assert_num_queries(6):  # session, user, collections, covers, the navigation's two
        alice_client.get("/collections/")
    for n in range(20):
        album = collection_service.create_collection(bob, f"B{n}")
        collection_service.add_images(bob, album, images[:3])
    with django_assert_num_queries(6):
        response = alice_client.get("/collections/")
    assert response.content.decode().count('class="collection-card"') == 22


def test_a_collection_page_lists_visible_images_newest_added_first(alice_client, alice, bob):
    album = collection_service.create_collection(bob, "Team")
    first = make_image(bob, created_at=timezone.now() - timedelta(days=2))
    second = make_image(bob)
    secret = make_image(bob, visibility=Visibility.PRIVATE)
    outside = make_image(bob)
    collection_service.add_images(bob, album, [second])
    CollectionItem.objects.update(added_at=timezone.now() - timedelta(hours=1))
    collection_service.add_images(bob, album, [first, secret])
    response = alice_client.get(f"/collections/{album.pk}/")
    assert response.status_code == 200
    assert tile_ids(response) == [first.pk, second.pk]
    assert outside.pk not in tile_ids(response)
    # newest and oldest sort by when the images were made
    by_made = alice_client.get(f"/collections/{album.pk}/?sort=newest")
    assert tile_ids(by_made) == [second.pk, first.pk]
    by_made = alice_client.get(f"/collections/{album.pk}/?sort=oldest")
    assert tile_ids(by_made) == [first.pk, second.pk]
    html = response.content.decode()
    assert "SHARE:" not in html  # the marked spot is a template comment, not output
    assert f"/collections/{album.pk}/edit/" not in html  # not alice's to edit


def test_a_collection_page_pages_by_date_added(alice_client, alice):
    album = collection_service.create_collection(alice, "Many")
    images = bulk_images([alice], 7)
    for n, image in enumerate(images):
        collection_service.add_images(alice, album, [image])
        CollectionItem.objects.filter(image=image).update(
            added_at=timezone.now() - timedelta(minutes=n)
        )
    seen, url = [], f"/collections/{album.pk}/?per_page=3"
    while url:
        response = alice_client.get(url)
        seen += tile_ids(response)
        older = re.search(r'<a href="([^"]+)" rel="next">', response.content.decode())
        url = older.group(1).replace("&amp;", "&") if older else ""
    assert seen == [image.pk for image in images]


def test_a_private_collection_is_404_to_others_and_unknown_ids_too(alice_client, alice, bob):
    private = collection_service.create_collection(bob, "Secret", visibility="private")
    for url in (f"/collections/{private.pk}/", "/collections/999999/", f"/collections/{2**63}/",
                f"/?collection={private.pk}", "/?collection=999999"):  # fmt: skip
        assert alice_client.get(url).status_code in (404, 400), url
    assert alice_client.get(f"/collections/{private.pk}/").status_code == 404
    assert alice_client.get(f"/?collection={private.pk}").status_code == 400
    for query in ("collection=abc", "collection=-1", "collection=0", "sort=added"):
        assert alice_client.get(f"/?{query}").status_code == 400, query


def test_only_the_creator_edits_or_deletes_and_the_images_stay(alice_client, alice, bob):
    album = collection_service.create_collection(alice, "Mine")
    image = make_image(alice)
    collection_service.add_images(alice, album, [image])
    client = Client()
    client.force_login(bob)
    assert client.get(f"/collections/{album.pk}/edit/").status_code == 403
    assert client.post(f"/collections/{album.pk}/edit/", {"name": "Taken"}).status_code == 403
    assert client.post(f"/collections/{album.pk}/delete/").status_code == 403
    response = alice_client.post(f"/collections/{album.pk}/edit/", {"name": "x" * 101})
    assert response.status_code == 400
    response = alice_client.post(
        f"/collections/{album.pk}/edit/",
        {"name": "Renamed", "description": "d", "visibility": "private"},
    )
    assert response.status_code == 302
    album.refresh_from_db()
    assert (album.name, album.visibility) == ("Renamed", "private")
    assert client.get(f"/collections/{album.pk}/").status_code == 404  # now private
    assert alice_client.get(f"/collections/{album.pk}/delete/").status_code == 200
    assert alice_client.post(f"/collections/{album.pk}/delete/").status_code == 302
    assert not Collection.objects.exists()
    image.refresh_from_db()


def test_add_and_remove_from_the_image_page(alice_client, alice, bob):
    album = collection_service.create_collection(alice, "Mine")
    image = make_image(bob)
    html = alice_client.get(f"/images/{image.pk}/").content.decode()
    assert 'aria-pressed="false"' in html and "Mine" in html
    response = alice_client.post(
        f"/images/{image.pk}/collections/", {"collection": album.pk, "action": "add"}, **HX
    )
    assert response.status_code == 200 and 'aria-pressed="true"' in response.content.decode()
    assert list(album.images.all()) == [image]
    response = alice_client.post(
        f"/images/{image.pk}/collections/", {"collection": album.pk, "action": "cover"}, **HX
    )
    assert response.status_code == 200
    album.refresh_from_db()
    assert album.cover == image
    response = alice_client.post(
        f"/images/{image.pk}/collections/", {"collection": album.pk, "action": "remove"}
    )
    assert response.status_code == 302
    assert not album.images.exists()


def test_forged_collection_posts_are_refused(alice_client, alice, bob):
    bobs_closed = collection_service.create_collection(bob, "Closed")  # team, no adding
    bobs_private = collection_service.create_collection(bob, "Private", visibility="private")
    mine = collection_service.create_collection(alice, "Mine")
    image = make_image(alice)
    secret = make_image(bob, visibility=Visibility.PRIVATE)
    url = f"/images/{image.pk}/collections/"
    assert (
        alice_client.post(url, {"collection": bobs_closed.pk, "action": "add"}).status_code == 403
    )
    assert (
        alice_client.post(url, {"collection": bobs_private.pk, "action": "add"}).status_code == 404
    )
    assert alice_client.post(url, {"collection": 999999, "action": "add"}).status_code == 404
    assert alice_client.post(f"/images/{secret.pk}/collections/", {"collection": mine.pk, "action": "add"}).status_code == 404  # fmt: skip
    for bad in ({"collection": "x", "action": "add"}, {"collection": mine.pk, "action": "steal"},
                {"action": "add"}, {"collection": "9" * 30, "action": "add"}):  # fmt: skip
        assert alice_client.post(url, bad).status_code == 400, bad
    assert (
        alice_client.post(url, {"collection": mine.pk, "action": "cover"}).status_code == 400
    )  # not in it
    assert not CollectionItem.objects.exists()


def test_the_collection_filter_narrows_the_gallery(alice_client, alice):
    album = collection_service.create_collection(alice, "<i>Album</i>")
    inside, outside = make_image(alice), make_image(alice)
    collection_service.add_images(alice, album, [inside])
    response = alice_client.get(f"/?collection={album.pk}")
    assert tile_ids(response) == [inside.pk] and outside.pk not in tile_ids(response)
    html = response.content.decode()
    assert "Collection: &lt;i&gt;Album&lt;/i&gt;" in html


def test_a_collection_page_of_many_takes_a_constant_number_of_queries(
    alice_client, alice, django_assert_num_queries
):
    for rows in (10, 150):
        album = collection_service.create_collection(alice, f"C{rows}")
        collection_service.add_images(alice, album, bulk_images([alice], rows))
        # session, user, the collection, its check in the filter form, the page, the
        # selection bar's collections, the nav's two
        with django_assert_num_queries(8):
            response = alice_client.get(f"/collections/{album.pk}/")
        assert len(tile_ids(response)) == min(rows, 48)


def test_unknown_collections_are_404_on_every_collection_url(alice_client, alice):
    image = make_image(alice)
    for url in (
        "/collections/999999/edit/",
        "/collections/999999/delete/",
        f"/collections/{2**63}/edit/",
    ):
        assert alice_client.get(url).status_code == 404, url
        assert alice_client.post(url, {"name": "x"}).status_code == 404, url
    assert (
        alice_client.post(
            f"/images/{image.pk}/collections/", {"collection": 0, "action": "add"}
        ).status_code
        == 404
    )


def test_the_creator_goes_back_to_the_newest_image_as_cover(alice_client, alice):
    album = collection_service.create_collection(alice, "Mine")
    older, newer = make_image(alice), make_image(alice)
    collection_service.add_images(alice, album, [older])
    collection_service.add_images(alice, album, [newer])
    collection_service.set_cover(alice, album, older)
    assert older.thumbnail_key in alice_client.get("/collections/").content.decode()
    response = alice_client.post(
        f"/collections/{album.pk}/edit/", {"name": "Mine", "cover": "newest"}
    )
    assert response.status_code == 302
    album.refresh_from_db()
    assert album.cover is None
    html = alice_client.get("/collections/").content.decode()
    assert newer.thumbnail_key in html and older.thumbnail_key not in html
