"""The rules of share links: who may share what, tokens stored only as hashes, edit, revoke
and its undo, and the one resolve that turns every failure into None."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from gallery.models import ShareLink
from gallery.services import sharing
from tests.share_helpers import collection_of, image_of, share

pytestmark = pytest.mark.django_db


def test_token_is_long_url_safe_and_only_its_hash_is_stored(alice):
    link, token = share(alice, image=image_of(alice))
    assert len(token) >= 32 and sharing.TOKEN_SHAPE.fullmatch(token)
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    row = ShareLink.objects.filter(pk=link.pk).values()[0]
    assert token not in str(row)
    assert sharing.resolve(token) == link


def test_two_links_never_share_a_token(alice):
    image = image_of(alice)
    tokens = {share(alice, image=image)[1] for _ in range(20)}
    assert len(tokens) == 20


def test_a_member_may_share_a_team_image_of_someone_else(alice, bob):
    link, _ = share(bob, image=image_of(alice, visibility="team"))
    assert link.owner == bob


def test_a_private_image_is_shared_only_by_its_author_or_staff(alice, bob, sam):
    image = image_of(alice, visibility="private")
    with pytest.raises(sharing.SharingError) as refused:
        share(bob, image=image)
    assert refused.value.code == "not_visible"
    assert share(alice, image=image)[0].owner == alice
    assert share(sam, image=image)[0].owner == sam


def test_a_hidden_image_cannot_be_shared(alice):
    with pytest.raises(sharing.SharingError):
        share(alice, image=image_of(alice, is_hidden=True))


def test_a_private_collection_of_someone_else_cannot_be_shared(alice, bob):
    collection = collection_of(alice, [image_of(alice)], visibility="private")
    with pytest.raises(sharing.SharingError):
        share(bob, collection=collection)
    assert share(alice, collection=collection)[0].collection == collection


def test_an_expiry_in_the_past_is_refused(alice):
    with pytest.raises(sharing.SharingError) as refused:
        share(alice, image=image_of(alice), expires_at=timezone.now() - timedelta(seconds=1))
    assert refused.value.code == "expiry_past"


@pytest.mark.parametrize(
    "token", ["", "short", "a" * 65, "has/slash-aaaaaaaaaaaaaaaaaaaa", "é" * 32, "a b" * 12]
)
def test_malformed_tokens_resolve_to_nothing(alice, token):
    share(alice, image=image_of(alice))
    assert sharing.resolve(token) is None


def test_every_way_a_link_fails_resolves_to_none(alice, bob):
    def fresh(**fields):
        image = image_of(alice, **fields.pop("image_fields", {}))
        return image, *share(alice, image=image, **fields)

    _, expired, expired_token = fresh()
    ShareLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    _, revoked, revoked_token = fresh()
    sharing.revoke_link(user=alice, link=revoked)
    hidden_image, _, hidden_token = fresh()
    hidden_image.is_hidden = True
    hidden_image.save()
    deleted_image, _, deleted_token = fresh()
    deleted_image.delete()
    private_image, _, private_token = fresh()
    _, _, live_token = fresh()
    for token in (expired_token, revoked_token, hidden_token, deleted_token):
        assert sharing.resolve(token) is None
    # bob shared alice's team image, which she then made private: his link stops
    private_image_link, bobs_token = share(bob, image=private_image)
    private_image.visibility = "private"
    private_image.save()
    assert sharing.resolve(bobs_token) is None
    assert sharing.resolve(private_token) is not None  # hers still works: she may see it
    alice.is_active = False
    alice.save()
    assert sharing.resolve(live_token) is None


def test_a_collection_link_stops_when_the_collection_turns_private_for_its_sharer(alice, bob):
    collection = collection_of(alice, [image_of(alice)])
    _, token = share(bob, collection=collection)
    assert sharing.resolve(token) is not None
    collection.visibility = "private"
    collection.save()
    assert sharing.resolve(token) is None


def test_edit_changes_every_field_and_a_blank_password_keeps_the_old_one(alice):
    link, _ = share(alice, image=image_of(alice), password="first-secret")
    old_hash = link.password_hash
    later = timezone.now() + timedelta(days=3)
    choices = sharing.LinkChoices(
        label="For the client", expires_at=later, allow_download=True, show_prompt=False
    )
    sharing.edit_link(user=alice, link=link, choices=choices)
    link.refresh_from_db()
    assert (link.label, link.expires_at, link.allow_download, link.show_prompt) == (
        "For the client", later, True, False
    )  # fmt: skip
    assert link.password_hash == old_hash
    sharing.edit_link(user=alice, link=link, choices=choices, new_password="second-secret")
    link.refresh_from_db()
    assert sharing.check_link_password(link, "second-secret")
    sharing.edit_link(user=alice, link=link, choices=choices, remove_password=True)
    link.refresh_from_db()
    assert link.password_hash == ""


def test_someone_elses_link_cannot_be_edited_or_revoked_but_staff_may(alice, bob, sam):
    link, _ = share(alice, image=image_of(alice))
    for change in (
        lambda: sharing.revoke_link(user=bob, link=link),
        lambda: sharing.edit_link(user=bob, link=link, choices=sharing.LinkChoices()),
    ):
        with pytest.raises(sharing.SharingError) as refused:
            change()
        assert refused.value.code == "not_yours"
    assert sharing.revoke_link(user=sam, link=link).revoked_at is not None


def test_revoke_can_be_undone_only_for_a_few_seconds(alice, settings):
    settings.SHARE_UNDO_SECONDS = 10
    link, token = share(alice, image=image_of(alice))
    sharing.revoke_link(user=alice, link=link)
    assert sharing.resolve(token) is None
    sharing.undo_revoke(user=alice, link=link)
    assert sharing.resolve(token) == link
    sharing.revoke_link(user=alice, link=link)
    ShareLink.objects.filter(pk=link.pk).update(revoked_at=timezone.now() - timedelta(seconds=11))
    with pytest.raises(sharing.SharingError) as refused:
        sharing.undo_revoke(user=alice, link=link)
    assert refused.value.code == "undo_too_late"
    assert sharing.resolve(token) is None


def test_a_wrong_password_never_opens_and_a_missing_link_still_costs_a_check(alice, monkeypatch):
    link, _ = share(alice, image=image_of(alice), password="open-sesame")
    assert sharing.check_link_password(link, "open-sesame")
    assert not sharing.check_link_password(link, "open-sesame ")
    checked = []
    real = sharing.check_password
    monkeypatch.setattr(sharing, "check_password", lambda *a: checked.append(1) or real(*a))
    assert not sharing.check_link_password(None, "open-sesame")
    assert checked == [1]


def test_changing_the_password_locks_browsers_that_had_the_old_one(alice):
    link, _ = share(alice, image=image_of(alice), password="open-sesame")
    session = {}
    sharing.unlock(session, link)
    assert sharing.is_unlocked(session, link)
    sharing.edit_link(
        user=alice, link=link, choices=sharing.LinkChoices(), new_password="new-sesame"
    )
    link.refresh_from_db()
    assert not sharing.is_unlocked(session, link)
