"""Personal API tokens: made and shown once, stored as a hash, listed, revoked; the
create_api_token command; last-used kept without a write per request."""

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from gallery.models import ApiToken
from gallery.services import api_tokens

pytestmark = pytest.mark.django_db


def test_create_api_token_prints_the_token_alone_on_its_last_line(alice):
    out = StringIO()
    call_command("create_api_token", "alice", "--name", "notebook", stdout=out, stderr=StringIO())
    raw = out.getvalue().splitlines()[-1]
    token = ApiToken.objects.get()
    assert raw.startswith("sg_") and raw.strip() == raw
    assert (token.user, token.name) == (alice, "notebook")
    assert api_tokens.authenticate(raw) == token


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nobody", "--name", "x"], "no member named 'nobody'"),
        (["alice", "--name", " "], "Give the token a name."),
        (["alice", "--name", "x" * 101], "at most 100 characters"),
    ],
)
def test_create_api_token_refuses_bad_input(alice, argv, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_token", *argv, stdout=StringIO(), stderr=StringIO())
    assert not ApiToken.objects.exists()


def test_create_api_token_refuses_an_inactive_member(alice):
    alice.is_active = False
    alice.save()
    with pytest.raises(CommandError, match="not active"):
        call_command("create_api_token", "alice", "--name", "x", stdout=StringIO())


def test_only_the_hash_of_a_token_is_stored(alice):
    token, raw = api_tokens.create(user=alice, name="laptop")
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert raw not in [str(value) for value in stored.values()]
    assert stored["key_hash"] == hashlib.sha256(raw.encode()).hexdigest()


def test_last_used_is_written_once_a_minute_not_per_request(alice, django_assert_num_queries):
    token, raw = api_tokens.create(user=alice, name="laptop")
    with django_assert_num_queries(2):  # read + the first last-used write
        assert api_tokens.authenticate(raw).last_used_at is not None
    with django_assert_num_queries(1):  # read only
        api_tokens.authenticate(raw)
    ApiToken.objects.filter(pk=token.pk).update(
        last_used_at=token.created_at - api_tokens.LAST_USED_RESOLUTION
    )
    with django_assert_num_queries(2):
        api_tokens.authenticate(raw)


def test_a_revoked_token_or_inactive_member_does_not_authenticate(alice, bob):
    token, raw = api_tokens.create(user=alice, name="laptop")
    _other, bobs = api_tokens.create(user=bob, name="notebook")
    assert not api_tokens.revoke(user=bob, token_id=token.pk)  # not bob's to revoke
    assert api_tokens.revoke(user=alice, token_id=token.pk)
    assert api_tokens.authenticate(raw) is None
    bob.is_active = False
    bob.save()
    assert api_tokens.authenticate(bobs) is None


# --- The settings page -----------------------------------------------------------


def test_tokens_page_is_linked_from_the_user_menu(alice_client):
    html = alice_client.get("/").content.decode()
    assert 'href="/settings/tokens/"' in html


def test_creating_a_token_shows_it_once(alice_client, alice):
    response = alice_client.post("/settings/tokens/", {"name": "laptop"})
    token = ApiToken.objects.get()
    raw = response.context["new_token"]
    assert api_tokens.authenticate(raw) == token
    assert raw in response.content.decode()
    assert "no-store" in response["Cache-Control"].split(", ")
    again = alice_client.get("/settings/tokens/").content.decode()
    assert raw not in again
    assert "laptop" in again and token.prefix in again


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_token_needs_a_name(alice_client, name):
    response = alice_client.post("/settings/tokens/", {"name": name})
    assert response.status_code == 400
    assert response.context["error"]
    assert not ApiToken.objects.exists()


def test_revoking_from_the_page(alice_client, alice):
    token, raw = api_tokens.create(user=alice, name="laptop")
    response = alice_client.post(f"/settings/tokens/{token.pk}/revoke/", follow=True)
    assert "Token revoked" in response.content.decode()
    assert api_tokens.authenticate(raw) is None


def test_a_member_cannot_revoke_or_see_anothers_token(client, alice, bob):
    token, raw = api_tokens.create(user=alice, name="alice-laptop")
    client.force_login(bob)
    assert "alice-laptop" not in client.get("/settings/tokens/").content.decode()
    client.post(f"/settings/tokens/{token.pk}/revoke/")
    assert api_tokens.authenticate(raw) == token


def test_tokens_page_needs_login(client):
    response = client.get("/settings/tokens/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
