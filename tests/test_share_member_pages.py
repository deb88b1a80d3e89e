"""The member's side of sharing: the Share button, the share form and its bad input, the new
link with its QR code, My links, Edit, Revoke with undo, and the Explore choice."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from gallery.models import MemberProfile, ShareLink
from gallery.services import sharing
from tests.share_helpers import collection_of, fresh_counters, image_of, share

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_redis(redis_url):
    fresh_counters()


def form(**fields):
    data = {"expires": "7d", "password": "", "label": "", "show_prompt": "on"}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def test_the_image_page_has_share_and_the_nav_has_my_links(alice, alice_client):
    image = image_of(alice)
    body = alice_client.get(f"/images/{image.pk}/").content.decode()
    assert f'href="/share/new/?image={image.pk}">Share</a>' in body
    assert re.search(r'<a href="/links/"[^>]*>My links</a>', body)


def test_the_share_form_has_its_labelled_fields(alice, alice_client):
    body = alice_client.get(f"/share/new/?image={image_of(alice).pk}").content.decode()
    for label in ("Expires", "Password", "Allow download", "Show prompt and seed", "Label"):
        assert re.search(rf"<label for=\"id_\w+\">{label}</label>", body), label
    for preset in ("In 1 day", "In 7 days", "In 30 days", "Never", "On a date"):
        assert preset in body
    assert ">Create link</button>" in body


def test_creating_a_link_shows_it_once_with_a_qr_code(alice, alice_client):
    image = image_of(alice)
    answer = alice_client.post(
        f"/share/new/?image={image.pk}",
        form(expires="30d", password="client-pass", allow_download="on", label="For Ada"),
    )
    body = answer.content.decode()
    assert answer.status_code == 200 and "no-store" in answer["Cache-Control"]
    token = re.search(r'value="http://testserver/s/([A-Za-z0-9_-]+)/"', body).group(1)
    assert "<svg" in body and 'class="segno"' in body
    link = ShareLink.objects.get()
    assert sharing.resolve(token) == link
    assert (link.label, link.allow_download, link.show_prompt) == ("For Ada", True, True)
    assert sharing.check_link_password(link, "client-pass")
    assert timedelta(days=29, hours=23) < link.expires_at - timezone.now() <= timedelta(days=30)


def test_a_custom_date_ends_the_link_after_that_day(alice, alice_client):
    day = (timezone.now() + timedelta(days=3)).date()
    alice_client.post(
        f"/share/new/?image={image_of(alice).pk}", form(expires="custom", expires_on=str(day))
    )
    link = ShareLink.objects.get()
    assert link.expires_at.date() == day + timedelta(days=1) and link.expires_at.hour == 0


def test_never_means_no_expiry(alice, alice_client):
    alice_client.post(f"/share/new/?image={image_of(alice).pk}", form(expires="never"))
    assert ShareLink.objects.get().expires_at is None


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"expires": "forever"}, "expires"),
        ({"expires": ""}, "expires"),
        ({"expires": "custom"}, "expires_on"),
        ({"expires": "custom", "expires_on": "2001-01-01"}, "expires_on"),
        ({"expires": "custom", "expires_on": "2999-01-01"}, "expires_on"),
        ({"expires": "custom", "expires_on": "not a date"}, "expires_on"),
        ({"password": "short"}, "password"),
        ({"password": "p" * 129}, "password"),
        ({"label": "l" * 201}, "label"),
    ],
)
def test_bad_share_form_input_is_refused_with_the_field_named(alice, alice_client, fields, field):
    answer = alice_client.post(f"/share/new/?image={image_of(alice).pk}", form(**fields))
    assert answer.status_code == 400
    assert f'id="error_{field}"' in answer.content.decode()
    assert not ShareLink.objects.exists()


@pytest.mark.parametrize(
    "query",
    ["", "?image=", "?image=abc", "?image=999999", "?image=1&collection=1", "?collection=x"],
)
def test_a_missing_or_bad_target_is_404(alice, alice_client, query):
    image_of(alice)
    assert alice_client.get(f"/share/new/{query}").status_code == 404


def test_a_private_image_of_someone_else_cannot_be_shared_through_the_form(alice, bob, client):
    image = image_of(alice, visibility="private")
    client.force_login(bob)
    assert client.get(f"/share/new/?image={image.pk}").status_code == 404
    assert client.post(f"/share/new/?image={image.pk}", form()).status_code == 404
    assert not ShareLink.objects.exists()


def test_a_collection_is_shared_through_the_same_form(alice, alice_client, bob, client):
    collection = collection_of(alice, [image_of(alice)], name="Trip to Hel")
    body = alice_client.get(f"/share/new/?collection={collection.pk}").content.decode()
    assert "Trip to Hel" in body
    alice_client.post(f"/share/new/?collection={collection.pk}", form())
    assert ShareLink.objects.get().collection == collection
    private = collection_of(alice, [image_of(alice)], visibility="private")
    client.force_login(bob)
    assert client.get(f"/share/new/?collection={private.pk}").status_code == 404


def test_the_form_needs_a_login(client, alice):
    answer = client.get(f"/share/new/?image={image_of(alice).pk}")
    assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]


def test_my_links_lists_the_members_links_only_and_staff_see_all(alice, bob, sam, client):
    share(alice, image=image_of(alice), label="Alice's link", password="pw-123456")
    share(bob, image=image_of(bob), label="Bob's link")
    client.force_login(alice)
    body = client.get("/links/").content.decode()
    assert "Alice&#x27;s link" in body and "Bob&#x27;s link" not in body
    for column in ("Label", "Created", "Expires", "Password", "Download", "Views", "Last view"):
        assert f">{column}</th>" in body
    assert ">Revoke</button>" in body and ">Edit</a>" in body
    client.force_login(sam)
    body = client.get("/links/").content.decode()
    assert "Alice&#x27;s link" in body and "Bob&#x27;s link" in body


def test_my_links_costs_a_fixed_number_of_queries(alice, alice_client, django_assert_num_queries):
    for n in range(6):
        share(alice, image=image_of(alice))
        share(alice, collection=collection_of(alice, [image_of(alice)], name=f"c{n}"))
    # session, user, running badge, the links, the collections' first images
    with django_assert_num_queries(5):
        assert alice_client.get("/links/").status_code == 200


def test_editing_changes_every_field(alice, alice_client):
    link, token = share(alice, image=image_of(alice), password="old-password")
    assert alice_client.get(f"/links/{link.pk}/edit/").status_code == 200
    day = (timezone.now() + timedelta(days=2)).date()
    answer = alice_client.post(
        f"/links/{link.pk}/edit/",
        {"expires": "custom", "expires_on": str(day), "allow_download": "on", "label": "New"},
    )
    assert answer.status_code == 302
    link.refresh_from_db()
    assert (link.label, link.allow_download, link.show_prompt) == ("New", True, False)
    assert link.expires_at.date() == day + timedelta(days=1)
    assert sharing.check_link_password(link, "old-password")  # blank: kept


def test_edit_refuses_a_new_password_together_with_removing_it(alice, alice_client):
    link, _ = share(alice, image=image_of(alice), password="old-password")
    answer = alice_client.post(
        f"/links/{link.pk}/edit/",
        form(password="new-password", remove_password="on"),
    )
    assert answer.status_code == 400 and 'id="error_password"' in answer.content.decode()


def test_someone_elses_link_is_404_to_edit_revoke_or_undo(alice, bob, client):
    link, token = share(alice, image=image_of(alice))
    client.force_login(bob)
    assert client.get(f"/links/{link.pk}/edit/").status_code == 404
    assert client.post(f"/links/{link.pk}/edit/", form(label="mine now")).status_code == 404
    assert client.post(f"/links/{link.pk}/revoke/").status_code == 404
    assert client.post(f"/links/{link.pk}/undo/").status_code == 404
    link.refresh_from_db()
    assert link.revoked_at is None and link.label == ""


def test_revoke_stops_the_link_at_once_and_undo_brings_it_back(alice, alice_client):
    link, token = share(alice, image=image_of(alice))
    row = alice_client.post(f"/links/{link.pk}/revoke/", HTTP_HX_REQUEST="true")
    body = row.content.decode()
    assert row.status_code == 200 and ">Undo</button>" in body and "Revoked" in body
    assert alice_client.get(f"/s/{token}/").status_code == 404
    row = alice_client.post(f"/links/{link.pk}/undo/", HTTP_HX_REQUEST="true")
    assert ">Revoke</button>" in row.content.decode()
    assert alice_client.get(f"/s/{token}/").status_code == 200


def test_undo_after_the_window_keeps_the_link_revoked(alice, alice_client):
    link, token = share(alice, image=image_of(alice))
    alice_client.post(f"/links/{link.pk}/revoke/")
    ShareLink.objects.filter(pk=link.pk).update(revoked_at=timezone.now() - timedelta(minutes=1))
    answer = alice_client.post(f"/links/{link.pk}/undo/", follow=True)
    assert "too long ago" in answer.content.decode()
    assert alice_client.get(f"/s/{token}/").status_code == 404


def test_revoke_and_undo_take_post_only(alice, alice_client):
    link, _ = share(alice, image=image_of(alice))
    assert alice_client.get(f"/links/{link.pk}/revoke/").status_code == 405
    assert alice_client.get(f"/links/{link.pk}/undo/").status_code == 405


def test_the_profile_page_sets_the_explore_choice(alice, alice_client):
    body = alice_client.get("/profile/").content.decode()
    assert "Show my public images on Explore" in body
    alice_client.post("/profile/explore/", {"show_on_explore": "on"})
    assert MemberProfile.objects.get(user=alice).show_on_explore
    assert "checked" in alice_client.get("/profile/").content.decode()
    alice_client.post("/profile/explore/", {})
    assert not MemberProfile.objects.get(user=alice).show_on_explore
