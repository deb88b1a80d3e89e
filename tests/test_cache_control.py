"""A member's pages carry presigned URLs and CSRF tokens: no cache may keep them."""

import pytest

pytestmark = pytest.mark.django_db


def directives(response) -> set[str]:
    return {part.strip() for part in response.headers.get("Cache-Control", "").split(",")}


@pytest.mark.parametrize("url", ["/", "/generate/", "/accounts/password_change/"])
def test_logged_in_pages_are_private_and_not_stored(alice_client, url):
    answer = alice_client.get(url)
    assert answer.status_code == 200
    assert {"private", "no-store"} <= directives(answer)
    assert "public" not in directives(answer)


def test_the_login_answer_itself_is_not_stored(client, alice):
    from tests.fixtures.people import PASSWORD

    answer = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert answer.status_code == 302
    assert {"private", "no-store"} <= directives(answer)
