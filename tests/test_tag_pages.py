"""Tags in the pages: the image page's Tags field, the suggestions, a tag's page and the tag
filter, with every bad input and every forged request."""

import re

import pytest

from gallery.models import ImageTag, Visibility
from gallery.services.tags import add_tags
from tests.images import bulk_images, make_image

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def tile_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'class="tile-link" href="/images/(\d+)/', response.content.decode())]  # fmt: skip


def test_the_owner_adds_and_removes_tags_in_place(alice_client, alice):
    image = make_image(alice)
    response = alice_client.post(f"/images/{image.pk}/tags/", {"name": " Sea,  Kite  Flying"}, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="image-tags"' in html and "<html" not in html  # the partial alone
    assert sorted(image.tags.names()) == ["kite flying", "sea"]
    assert 'href="/tags/kite%20flying/"' in html
    response = alice_client.post(f"/images/{image.pk}/tags/remove/", {"name": "sea"}, **HX)
    assert response.status_code == 200
    assert sorted(image.tags.names()) == ["kite flying"]


def test_without_htmx_the_forms_redirect_back_to_the_image(alice_client, alice):
    image = make_image(alice)
    response = alice_client.post(f"/images/{image.pk}/tags/", {"name": "sea"})
    assert response.status_code == 302 and response["Location"] == f"/images/{image.pk}/"
    assert list(image.tags.names()) == ["sea"]


@pytest.mark.parametrize(
    "name, message",
    [("", "empty"), ("x" * 51, "at most 50"), ("a\x07b", "control"), ("y" * 1001, "too long")],
)
def test_a_bad_tag_answers_400_with_the_reason_and_changes_nothing(
    alice_client, alice, name, message
):
    image = make_image(alice)
    add_tags(alice, [image], ["kept"])
    response = alice_client.post(f"/images/{image.pk}/tags/", {"name": name}, **HX)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert list(image.tags.names()) == ["kept"]


def test_the_image_page_shows_the_tags_field_only_to_who_may_change_it(alice_client, alice, bob):
    mine, bobs = make_image(alice), make_image(bob)
    add_tags(bob, [bobs], ["<b>bold</b>"])
    html = alice_client.get(f"/images/{mine.pk}/").content.decode()
    assert '<label id="tags-heading" for="id_tag_name">Tags</label>' in html
    html = alice_client.get(f"/images/{bobs.pk}/").content.decode()
    assert 'id="id_tag_name"' not in html and "Remove tag" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html


def test_forged_tag_posts_404_for_unseen_images_and_403_for_others(alice_client, alice, bob):
    secret = make_image(bob, visibility=Visibility.PRIVATE)
    hidden = make_image(bob, is_hidden=True)
    bobs = make_image(bob)
    for image in (secret, hidden):
        for action in ("tags", "tags/remove"):
            assert (
                alice_client.post(f"/images/{image.pk}/{action}/", {"name": "x"}).status_code == 404
            )
    for action in ("tags", "tags/remove"):
        assert alice_client.post(f"/images/{bobs.pk}/{action}/", {"name": "x"}).status_code == 403
    assert alice_client.post("/images/99999999/tags/", {"name": "x"}).status_code == 404
    assert alice_client.post(f"/images/{2**63}/tags/", {"name": "x"}).status_code == 404
    assert alice_client.get(f"/images/{bobs.pk}/tags/").status_code == 405
    assert not ImageTag.objects.exists()


def test_staff_may_tag_anyones_image(client, sam, bob):
    image = make_image(bob, visibility=Visibility.PRIVATE)
    client.force_login(sam)
    assert client.post(f"/images/{image.pk}/tags/", {"name": "moderated"}, **HX).status_code == 200


def test_suggestions_come_from_tags_on_images_the_member_may_see(alice_client, alice, bob):
    add_tags(alice, [make_image(alice)], ["seaside", "sea", "sunset"])
    add_tags(bob, [make_image(bob, visibility=Visibility.PRIVATE)], ["secret sea plan"])
    html = alice_client.get("/tag-suggestions/", {"name": "SE"}).content.decode()
    assert re.findall(r'data-value="([^"]+)"', html) == ["sea", "seaside"]
    assert alice_client.get("/tag-suggestions/", {"name": ""}).content.decode().strip() == ""


def test_suggestions_are_capped_at_ten_in_one_query(alice_client, alice, django_assert_num_queries):
    add_tags(alice, bulk_images([alice], 3), [f"tag {n:02}" for n in range(20)])
    with django_assert_num_queries(3):  # session, user, the suggestions
        html = alice_client.get("/tag-suggestions/", {"name": "tag"}).content.decode()
    assert html.count('role="option"') == 10


@pytest.mark.parametrize("name", ["a\x00b", "z" * 101])
def test_bad_suggestion_prefixes_answer_400(alice_client, name):
    assert alice_client.get("/tag-suggestions/", {"name": name}).status_code == 400


def test_a_tag_page_lists_only_visible_images_with_that_tag(alice_client, alice, bob):
    tagged = make_image(alice, prompt="tagged one")
    other = make_image(alice, prompt="untagged")
    bobs_secret = make_image(bob, visibility=Visibility.PRIVATE)
    add_tags(alice, [tagged], ["水墨"])
    add_tags(bob, [bobs_secret], ["水墨"])
    response = alice_client.get("/tags/水墨/")
    assert response.status_code == 200
    assert tile_ids(response) == [tagged.pk]
    assert other.pk not in tile_ids(response)
    assert f'href="/images/{tagged.pk}/?tag=' in response.content.decode()


def test_a_tag_page_redirects_to_the_normal_form_and_404s_for_unknown_or_unseen(
    alice_client, alice, bob
):
    add_tags(alice, [make_image(alice)], ["sunset beach"])
    add_tags(bob, [make_image(bob, visibility=Visibility.PRIVATE)], ["only bob knows"])
    response = alice_client.get("/tags/Sunset  Beach/?view=flat")
    assert response.status_code == 302
    assert response["Location"] == "/tags/sunset%20beach/?view=flat"
    assert alice_client.get("/tags/no such tag/").status_code == 404
    assert alice_client.get("/tags/only bob knows/").status_code == 404
    assert alice_client.get("/tags/" + "x" * 60 + "/").status_code == 404
    assert alice_client.get("/tags/sunset beach/?date_from=garbage").status_code == 400


def test_tag_filters_combine_as_and_and_show_as_removable_chips(alice_client, alice):
    both, sea, kite = make_image(alice), make_image(alice), make_image(alice)
    add_tags(alice, [both, sea], ["sea"])
    add_tags(alice, [both, kite], ["kite"])
    response = alice_client.get("/?tag=sea&tag=KITE&view=flat")
    assert tile_ids(response) == [both.pk]
    html = response.content.decode()
    assert html.count('class="chip"') == 3  # two tags and the view
    assert 'href="/?view=flat&amp;tag=KITE"' in html  # clears sea alone
    assert sorted(tile_ids(alice_client.get("/?tag=sea&view=flat"))) == sorted([both.pk, sea.pk])


@pytest.mark.parametrize(
    "query", ["tag=a%00b", "tag=" + "x" * 51, "&".join([f"tag=t{n}" for n in range(11)])]
)
def test_bad_tag_filters_answer_400(alice_client, query):
    assert alice_client.get(f"/?{query}").status_code == 400


def test_tag_pages_take_a_constant_number_of_queries(
    alice_client, alice, bob, django_assert_num_queries
):
    for rows in (20, 200):
        images = bulk_images([alice, bob], rows)
        add_tags(alice, [i for i in images if i.owner_id == alice.pk], [f"t{rows}"])
        # session, user, the tag's check, its id, the page, stack sizes, the selection bar's
        # collections, the navigation's two
        with django_assert_num_queries(9):
            response = alice_client.get(f"/tags/t{rows}/")
        assert tile_ids(response)


def test_a_tag_may_be_called_suggest_or_hold_a_slash(alice_client, alice):
    image = make_image(alice)
    add_tags(alice, [image], ["suggest", "black/white"])
    assert tile_ids(alice_client.get("/tags/suggest/")) == [image.pk]
    assert tile_ids(alice_client.get("/tags/black/white/")) == [image.pk]
