"""Saved searches: any gallery view kept under a name, listed in the navigation, re-run each
time; rename and delete; bad input answers 400."""

import pytest

from gallery.models import SavedSearch
from gallery.services.tags import add_tags
from tests.images import make_image

pytestmark = pytest.mark.django_db


def test_saving_a_view_keeps_its_query_without_paging_and_lists_it_in_the_nav(alice_client, alice):
    response = alice_client.post(
        "/searches/new/",
        {"name": "Sea views", "query": "q=sea&view=flat&tag=kite&after=junk&per_page=3"},
    )
    saved = SavedSearch.objects.get()
    assert saved.query == "q=sea&view=flat&tag=kite"
    assert response.status_code == 302 and response["Location"] == "/?q=sea&view=flat&tag=kite"
    html = alice_client.get("/jobs/").content.decode()
    assert 'href="/?q=sea&amp;view=flat&amp;tag=kite">Sea views</a>' in html


def test_a_saved_search_stays_up_to_date(alice_client, alice):
    alice_client.post("/searches/new/", {"name": "Kites", "query": "tag=kite&view=flat"})
    image = make_image(alice)
    add_tags(alice, [image], ["kite"])  # tagged after saving
    assert (
        f'href="/images/{image.pk}/'
        in alice_client.get("/?" + SavedSearch.objects.get().query).content.decode()
    )


def test_saving_under_an_existing_name_updates_it(alice_client):
    alice_client.post("/searches/new/", {"name": "Mine", "query": "who=mine"})
    alice_client.post("/searches/new/", {"name": "Mine", "query": "who=mine&view=flat"})
    assert list(SavedSearch.objects.values_list("query", flat=True)) == ["who=mine&view=flat"]


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "", "query": "q=a"},
        {"name": "x" * 101, "query": ""},
        {"name": "a\x00", "query": ""},
        {"name": "ok", "query": "date_from=garbage"},
        {"name": "ok", "query": "q=" + "a" * 2001},
        {"name": "ok", "query": "collection=99999"},
    ],  # fmt: skip
)
def test_bad_saves_answer_400(alice_client, fields):
    assert alice_client.post("/searches/new/", fields).status_code == 400
    assert not SavedSearch.objects.exists()


def test_rename_and_delete_only_ones_own(alice_client, alice, bob):
    mine = SavedSearch.objects.create(owner=alice, name="A", query="")
    other = SavedSearch.objects.create(owner=alice, name="B", query="")
    bobs = SavedSearch.objects.create(owner=bob, name="Bob's", query="")
    assert alice_client.post(f"/searches/{mine.pk}/rename/", {"name": "Renamed"}).status_code == 302
    assert alice_client.post(f"/searches/{mine.pk}/rename/", {"name": "B"}).status_code == 400
    assert alice_client.post(f"/searches/{mine.pk}/rename/", {"name": ""}).status_code == 400
    assert alice_client.post(f"/searches/{bobs.pk}/rename/", {"name": "Stolen"}).status_code == 404
    assert alice_client.post(f"/searches/{bobs.pk}/delete/").status_code == 404
    assert alice_client.post("/searches/999999/delete/").status_code == 404
    assert alice_client.get(f"/searches/{mine.pk}/delete/").status_code == 405
    mine.refresh_from_db()
    assert mine.name == "Renamed"
    assert alice_client.post(f"/searches/{other.pk}/delete/").status_code == 302
    assert set(SavedSearch.objects.values_list("name", flat=True)) == {"Renamed", "Bob's"}
    html = alice_client.get("/searches/").content.decode()
    assert "Renamed" in html and "Bob&#x27;s" not in html
