"""Wrong passwords are throttled per username and address and per address, without letting a
stranger lock a member out by name alone; staff lift a lockout in the admin."""

import pytest
from axes.models import AccessAttempt

from tests.fixtures.people import PASSWORD

pytestmark = pytest.mark.django_db

STRANGER = "203.0.113.7"
OWNER_ELSEWHERE = "198.51.100.20"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Tens of logins per test: a hasher that costs nothing (the throttle does not care)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def log_in(client, username, password, *, ip, path="/accounts/login/"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_thirty_wrong_passwords_are_throttled(client, alice, settings):
    answers = [log_in(client, "alice", "wrong", ip=STRANGER).status_code for _ in range(30)]
    limit = settings.AXES_FAILURE_LIMIT
    assert answers[: limit - 1] == [200] * (limit - 1)  # the form again, with its error
    assert set(answers[limit:]) == {429}
    # Not even the right password gets through from there while the pause lasts.
    assert log_in(client, "alice", PASSWORD, ip=STRANGER).status_code == 429


def test_the_owner_still_logs_in_from_another_address(client, alice):
    for _ in range(30):
        log_in(client, "alice", "wrong", ip=STRANGER)
    answer = log_in(client, "alice", PASSWORD, ip=OWNER_ELSEWHERE)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"


def test_lockout_page_says_what_happened_and_how_long(client, alice, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        answer = log_in(client, "alice", "wrong", ip=STRANGER)
    assert answer.status_code == 429
    text = answer.content.decode()
    assert "Too many failed logins" in text
    assert "Try again in 15 minutes." in text
    assert "ask a staff member" in text


def test_an_address_guessing_many_names_is_locked_for_every_name(client, alice, bob, settings):
    for n in range(settings.LOGIN_IP_FAILURE_LIMIT):
        log_in(client, f"guess{n}", "wrong", ip=STRANGER)
    assert log_in(client, "bob", PASSWORD, ip=STRANGER).status_code == 429
    assert log_in(client, "bob", PASSWORD, ip=OWNER_ELSEWHERE).status_code == 302


def test_fewer_guesses_from_an_address_lock_nothing(client, bob, settings):
    for n in range(settings.LOGIN_IP_FAILURE_LIMIT - 1):
        log_in(client, f"guess{n}", "wrong", ip=STRANGER)
    assert log_in(client, "bob", PASSWORD, ip=STRANGER).status_code == 302


def test_admin_login_is_throttled_too(client, sam, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "sam", "wrong", ip=STRANGER, path="/admin/login/")
    assert log_in(client, "sam", PASSWORD, ip=STRANGER, path="/admin/login/").status_code == 429


def test_staff_lift_a_lockout_in_the_admin(client, alice, sam, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "alice", "wrong", ip=STRANGER)
    attempt = AccessAttempt.objects.get(username="alice", ip_address=STRANGER)
    client.force_login(sam)
    listing = client.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and STRANGER in listing.content.decode()
    deleted = client.post(
        f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"}, REMOTE_ADDR="10.0.0.1"
    )
    assert deleted.status_code == 302
    client.logout()
    assert log_in(client, "alice", PASSWORD, ip=STRANGER).status_code == 302


def test_behind_a_trusted_proxy_the_forwarded_address_counts(client, alice, settings):
    settings.TRUSTED_PROXY_HOPS = 1
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            "/accounts/login/",
            {"username": "alice", "password": "wrong"},
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR=f"10.9.9.9, {STRANGER}",
        )
    assert AccessAttempt.objects.get().ip_address == STRANGER
    owner = client.post(
        "/accounts/login/",
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR=OWNER_ELSEWHERE,
    )
    assert owner.status_code == 302
