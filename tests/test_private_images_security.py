"""The security matrix: with three members (alice the owner, bob her teammate, carol a stranger
with a private image of her own), nobody sees, tags, collects, downloads, changes or deletes
another member's private image by guessing its id or crafting a request, in any view.

404 for what a member may not see, 403 for what they may see but not change. Each view is one
row of VIEWS: add a row when a view is added.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model

from gallery.models import Collection, CollectionItem, Favourite, Generation, Image, ImageTag
from gallery.services import collections as collection_service
from gallery.services import tags as tag_service
from tests.images import make_image

BULK = "/images/bulk/"


@dataclass(frozen=True)
class View:
    name: str
    request: Callable  # (client, image, member) -> response
    changes: bool  # True: only the author or staff may; False: anyone who may see it


def _own_collection(member) -> Collection:
    return Collection.objects.get_or_create(owner=member, name="Mine")[0]


def _collect_one(action: str):
    def request(client, image, member):
        data = {"collection": _own_collection(member).pk, "action": action}
        return client.post(f"/images/{image.pk}/collections/", data)

    return request


def _bulk(action: str, **extra):
    def request(client, image, member):
        data = {"action": action, "ids": str(image.pk), **extra}
        if action in ("collect", "uncollect"):
            data["collection"] = _own_collection(member).pk
        return client.post(BULK, data)

    return request


VIEWS = [
    View("detail", lambda c, i, m: c.get(f"/images/{i.pk}/"), changes=False),
    View("lightbox", lambda c, i, m: c.get(f"/images/{i.pk}/lightbox/"), changes=False),
    View("download", lambda c, i, m: c.get(f"/images/{i.pk}/download/"), changes=False),
    View("favourite", lambda c, i, m: c.post(f"/images/{i.pk}/favourite/"), changes=False),
    View("vary", lambda c, i, m: c.post(f"/images/{i.pk}/vary/"), changes=False),
    View("remix", lambda c, i, m: c.get(f"/generate/?remix={i.pk}"), changes=False),
    View("delete page", lambda c, i, m: c.get(f"/images/{i.pk}/delete/"), changes=True),
    View("delete", lambda c, i, m: c.post(f"/images/{i.pk}/delete/"), changes=True),
    View(
        "visibility",
        lambda c, i, m: c.post(f"/images/{i.pk}/visibility/", {"visibility": "public"}),
        changes=True,
    ),
    View("api detail", lambda c, i, m: c.get(f"/api/images/{i.pk}"), changes=False),
    View("api favourite", lambda c, i, m: c.post(f"/api/images/{i.pk}/favourite"), changes=False),
    View(
        "api unfavourite", lambda c, i, m: c.delete(f"/api/images/{i.pk}/favourite"), changes=False
    ),
    View(
        "tag add", lambda c, i, m: c.post(f"/images/{i.pk}/tags/", {"name": "forged"}), changes=True
    ),
    View(
        "tag remove",
        lambda c, i, m: c.post(f"/images/{i.pk}/tags/remove/", {"name": "zebra"}),
        changes=True,
    ),
    View("collection add", _collect_one("add"), changes=False),
    View("collection remove", _collect_one("remove"), changes=False),
    View("bulk tag", _bulk("tag", tags="forged"), changes=True),
    View("bulk untag", _bulk("untag", tags="forged"), changes=True),
    View("bulk collect", _bulk("collect"), changes=False),
    View("bulk uncollect", _bulk("uncollect"), changes=False),
    View("bulk visibility", _bulk("visibility", visibility="public"), changes=True),
    View("bulk delete", _bulk("delete"), changes=True),
    View("bulk ZIP", _bulk("download"), changes=False),
]


@pytest.fixture
def carol(db):
    return get_user_model().objects.create_user("carol", "carol@example.test", "x")


@pytest.fixture
def cast(alice, bob, carol):
    """alice's private and team images (one batch), carol's private one."""
    private = make_image(alice, prompt="alice private zebra", visibility="private")
    shared = make_image(alice, prompt="alice team zebra", batch=private.batch)
    Image.objects.filter(pk=shared.pk).update(batch=private.batch)
    shared.refresh_from_db()
    carols = make_image(carol, prompt="carol private zebra", visibility="private")
    tag_service.add_tags(alice, [private, shared], ["zebra"])
    tag_service.add_tags(carol, [carols], ["zebra"])
    board = Collection.objects.create(owner=alice, name="Team board", visibility="team")
    collection_service.add_images(alice, board, [private, shared])
    return {"private": private, "shared": shared, "carols": carols, "board": board}


def as_member(client, user):
    client.force_login(user)
    return client


def untouched(image: Image) -> None:
    """The image is as it was: there, its visibility, its one tag and one collection (as the
    cast made it), nobody's favourite."""
    fresh = Image.objects.get(pk=image.pk)
    assert fresh.visibility == image.visibility
    tags = ImageTag.objects.filter(content_object=image).values_list("tag__name", flat=True)
    assert list(tags) == ["zebra"]
    assert not Favourite.objects.filter(image=image).exists()
    assert CollectionItem.objects.filter(image=image).count() == (
        0 if image.owner.username == "carol" else 1
    )


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.name)
@pytest.mark.parametrize(("member", "target"), [("bob", "private"), ("carol", "private"),
                                                ("alice", "carols"), ("bob", "carols")])  # fmt: skip
def test_another_members_private_image_is_not_found_in_any_view(
    client, cast, view, member, target, request
):
    user = request.getfixturevalue(member)
    image = cast[target]
    generations = Generation.objects.count()
    response = view.request(as_member(client, user), image, user)
    assert response.status_code == 404, response.content[:300]
    untouched(image)
    assert Generation.objects.count() == generations  # no vary of it either


@pytest.mark.parametrize("view", [v for v in VIEWS if v.changes], ids=lambda v: v.name)
def test_a_teammates_visible_image_cannot_be_changed(client, cast, bob, view):
    image = cast["shared"]
    response = view.request(as_member(client, bob), image, bob)
    assert response.status_code == 403, response.content[:300]
    untouched(image)


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.name)
def test_the_author_may_use_every_view_on_their_private_image(client, cast, alice, view):
    """The control: the refusals above are about who asks, not a view that refuses everyone."""
    response = view.request(as_member(client, alice), cast["private"], alice)
    assert response.status_code in (200, 201, 302), response.content[:300]


@pytest.mark.parametrize("view", [v for v in VIEWS if not v.changes], ids=lambda v: v.name)
def test_a_teammate_may_use_the_viewing_views_on_a_team_image(client, cast, bob, view):
    response = view.request(as_member(client, bob), cast["shared"], bob)
    assert response.status_code in (200, 201, 302), response.content[:300]


def test_staff_see_and_change_a_private_image(client, cast, sam):
    client.force_login(sam)
    image = cast["private"]
    assert client.get(f"/images/{image.pk}/").status_code == 200
    response = client.post(f"/images/{image.pk}/visibility/", {"visibility": "team"})
    assert response.status_code == 302
    assert Image.objects.get(pk=image.pk).visibility == "team"


# --- Lists: the private image is not listed, nor linked from what is -------------------------

LISTS = [
    ("grid", "/?view=flat"),
    ("stacked grid", "/"),
    ("search", "/?q=zebra"),
    ("tag filter", "/?tag=zebra&view=flat"),
    ("tag page", "/tags/zebra/"),
    ("collection page", "/collections/{board}/"),
    ("collection filter", "/?collection={board}"),
    ("api list", "/api/images?limit=100"),
    ("api stacked list", "/api/images?view=stacked"),
    ("api search", "/api/images?q=zebra"),
]


def _mentions(response, image: Image) -> bool:
    text = response.content.decode()
    return (
        f"/images/{image.pk}/" in text
        or f'"id": {image.pk},' in text
        or (f'"id":{image.pk},' in text)
    )


@pytest.mark.parametrize(("name", "url"), LISTS, ids=[name for name, _ in LISTS])
def test_lists_leave_out_another_members_private_image(client, cast, alice, bob, name, url):
    private, shared = cast["private"], cast["shared"]
    url = url.format(board=cast["board"].pk)
    seen_by_bob = as_member(client, bob).get(url)
    assert seen_by_bob.status_code == 200
    assert _mentions(seen_by_bob, shared) or "stacked" in name  # a stack shows its first
    assert not _mentions(seen_by_bob, private) and not _mentions(seen_by_bob, cast["carols"])
    seen_by_alice = as_member(client, alice).get(url)
    assert _mentions(seen_by_alice, private)  # the control: the author's list has it


def test_the_team_images_page_neither_links_nor_counts_its_private_sibling(client, cast, bob):
    private, shared = cast["private"], cast["shared"]
    client.force_login(bob)
    for url in (f"/images/{shared.pk}/", f"/images/{shared.pk}/lightbox/"):
        response = client.get(url)
        assert response.status_code == 200 and not _mentions(response, private), url
    stacked = client.get("/")
    assert "2 images" not in stacked.content.decode()  # the stack counts only what bob sees
