"""The set-based services for tags and collections: normalised names, who may do what, and a
bounded number of queries however many images."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from taggit.models import Tag

from gallery.models import Collection, CollectionItem, ImageTag, Visibility
from gallery.services import collections as collection_service
from gallery.services.tags import add_tags, remove_tags
from tests.images import bulk_images, make_image

pytestmark = pytest.mark.django_db


def tags_of(image) -> list[str]:
    return sorted(image.tags.names())


# --- tags -------------------------------------------------------------------------------------


def test_names_are_trimmed_case_folded_and_collapsed_and_chinese_kept(alice):
    image = make_image(alice)
    names = add_tags(alice, [image], ["  Sunset  Beach ", "SUNSET beach", "水墨 山水", "Straße"])
    assert names == ["sunset beach", "水墨 山水", "strasse"]
    assert tags_of(image) == ["strasse", "sunset beach", "水墨 山水"]


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "tab\x00nul", "bell\x07", "x" * 51, "zero\u200bwidth"],
    ids=["empty", "blank", "nul", "bell", "too-long", "format-char"],
)
def test_a_bad_name_refuses_the_whole_call(alice, bad):
    image = make_image(alice)
    with pytest.raises(ValidationError):
        add_tags(alice, [image], ["fine", bad])
    assert tags_of(image) == []
    assert not Tag.objects.exists()


def test_adding_twice_keeps_one_row_and_chinese_tags_get_distinct_slugs(alice):
    image = make_image(alice)
    add_tags(alice, [image], ["猫"])
    add_tags(alice, [image], ["猫", "狗"])
    assert ImageTag.objects.filter(content_object=image).count() == 2
    assert len(set(Tag.objects.values_list("slug", flat=True))) == 2


def test_only_the_owner_or_staff_may_tag_and_a_forged_image_refuses_the_call(alice, bob, sam):
    mine = make_image(alice)
    bobs = make_image(bob)
    with pytest.raises(PermissionDenied):
        add_tags(alice, [mine, bobs], ["kite"])
    assert not ImageTag.objects.exists()
    add_tags(sam, [mine, bobs], ["kite"])
    assert tags_of(bobs) == ["kite"]
    with pytest.raises(PermissionDenied):
        remove_tags(alice, [bobs], ["kite"])
    assert tags_of(bobs) == ["kite"]


def test_removing_a_tag_drops_it_from_the_images_and_an_unused_tag_goes(alice):
    one, two = make_image(alice), make_image(alice)
    add_tags(alice, [one, two], ["kite", "sea"])
    remove_tags(alice, [one], ["KITE"])
    assert tags_of(one) == ["sea"]
    assert tags_of(two) == ["kite", "sea"]
    remove_tags(alice, [two], ["kite"])
    assert sorted(Tag.objects.values_list("name", flat=True)) == ["sea"]


def count_queries(call) -> int:
    with CaptureQueriesContext(connection) as ctx:
        call()
    return len(ctx.captured_queries)


def test_tagging_fifty_images_takes_as_many_queries_as_one(alice):
    images = bulk_images([alice], 51)
    one = count_queries(lambda: add_tags(alice, images[:1], ["a", "b"]))
    fifty = count_queries(lambda: add_tags(alice, images[1:], ["c", "d"]))
    assert one == fifty <= 8
    assert ImageTag.objects.count() == 2 + 100
    one = count_queries(lambda: remove_tags(alice, images[:1], ["a"]))
    fifty = count_queries(lambda: remove_tags(alice, images[1:], ["c"]))
    assert one == fifty <= 8


# --- collections ------------------------------------------------------------------------------


def test_create_cleans_the_name_and_refuses_bad_input(alice):
    album = collection_service.create_collection(alice, "  Summer   trip ", "by the sea")
    assert (album.name, album.visibility, album.team_can_add) == ("Summer trip", "team", False)
    for bad in [
        {"name": ""},
        {"name": "x" * 101},
        {"name": "bad\x00name"},
        {"name": "ok", "visibility": "public"},
        {"name": "ok", "description": "y" * 2001},
    ]:
        with pytest.raises(ValidationError):
            collection_service.create_collection(alice, **bad)
    assert Collection.objects.count() == 1


def test_only_the_creator_renames_deletes_and_picks_the_cover(alice, bob):
    album = collection_service.create_collection(alice, "Mine")
    image = make_image(alice)
    for call in [
        lambda: collection_service.update_collection(bob, album, name="Taken"),
        lambda: collection_service.delete_collection(bob, album),
        lambda: collection_service.set_cover(bob, album, None),
    ]:
        with pytest.raises(PermissionDenied):
            call()
    collection_service.update_collection(alice, album, name="Renamed", visibility="private")
    album.refresh_from_db()
    assert (album.name, album.visibility) == ("Renamed", "private")
    with pytest.raises(ValidationError):  # not in the collection
        collection_service.set_cover(alice, album, image)
    collection_service.add_images(alice, album, [image])
    collection_service.set_cover(alice, album, image)
    assert Collection.objects.get(pk=album.pk).cover == image
    collection_service.delete_collection(alice, album)
    assert not Collection.objects.exists()
    image.refresh_from_db()  # the images stay


def test_others_add_only_when_the_creator_lets_the_team(alice, bob):
    album = collection_service.create_collection(alice, "Team album")
    bobs = make_image(bob)
    with pytest.raises(PermissionDenied):
        collection_service.add_images(bob, album, [bobs])
    collection_service.update_collection(alice, album, team_can_add=True)
    assert collection_service.add_images(bob, album, [bobs]) == 1
    item = CollectionItem.objects.get()
    assert item.added_by == bob
    collection_service.update_collection(alice, album, visibility="private")
    with pytest.raises(PermissionDenied):
        collection_service.remove_images(bob, album, [bobs])


def test_nobody_collects_an_image_they_cannot_see_and_the_whole_call_is_refused(alice, bob):
    album = collection_service.create_collection(alice, "Mine")
    mine = make_image(alice)
    secret = make_image(bob, visibility=Visibility.PRIVATE)
    hidden = make_image(bob, is_hidden=True)
    for forged in (secret, hidden):
        with pytest.raises(PermissionDenied):
            collection_service.add_images(alice, album, [mine, forged])
    assert not CollectionItem.objects.exists()


def test_adding_again_counts_only_new_images_and_removing_clears_the_cover(alice):
    album = collection_service.create_collection(alice, "Mine")
    one, two = make_image(alice), make_image(alice)
    assert collection_service.add_images(alice, album, [one]) == 1
    assert collection_service.add_images(alice, album, [one, two, two]) == 1
    collection_service.set_cover(alice, album, one)
    assert collection_service.remove_images(alice, album, [one]) == 1
    album.refresh_from_db()
    assert album.cover is None
    assert list(album.images.all()) == [two]


def test_collecting_fifty_images_takes_as_many_queries_as_one(alice):
    album = collection_service.create_collection(alice, "Mine")
    images = bulk_images([alice], 51)
    one = count_queries(lambda: collection_service.add_images(alice, album, images[:1]))
    fifty = count_queries(lambda: collection_service.add_images(alice, album, images[1:]))
    assert one == fifty <= 8
    assert album.items.count() == 51
    one = count_queries(lambda: collection_service.remove_images(alice, album, images[:1]))
    fifty = count_queries(lambda: collection_service.remove_images(alice, album, images[1:]))
    assert one == fifty <= 8
    assert album.items.count() == 0
