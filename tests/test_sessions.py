"""A login ends after SESSION_IDLE_TIMEOUT without requests or SESSION_LIFETIME after it began;
the CSRF cookie lives no longer than a login."""

import time

import pytest

from gallery.middleware import SESSION_SEEN, SESSION_STARTED
from tests.fixtures.people import PASSWORD

pytestmark = pytest.mark.django_db


def shift(client, key, seconds_ago):
    session = client.session
    session[key] = int(time.time()) - seconds_ago
    session.save()


def test_a_fresh_login_stays_in(alice_client):
    assert alice_client.get("/").status_code == 200
    assert alice_client.get("/").status_code == 200


def test_an_idle_session_is_logged_out(alice_client, settings):
    alice_client.get("/")
    shift(alice_client, SESSION_SEEN, settings.SESSION_IDLE_TIMEOUT + 5)
    answer = alice_client.get("/")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in alice_client.session


def test_activity_keeps_the_session_alive(alice_client, settings):
    alice_client.get("/")
    shift(alice_client, SESSION_SEEN, settings.SESSION_IDLE_TIMEOUT - 120)
    assert alice_client.get("/").status_code == 200
    assert time.time() - alice_client.session[SESSION_SEEN] < 60


def test_a_session_ends_at_its_lifetime_however_active(alice_client, settings):
    alice_client.get("/")
    shift(alice_client, SESSION_STARTED, settings.SESSION_LIFETIME + 5)
    assert alice_client.get("/").status_code == 302


def test_logging_in_again_starts_a_new_lifetime(client, alice, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    alice.set_password(PASSWORD)
    alice.save()
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    started = client.session[SESSION_STARTED]
    assert abs(time.time() - started) < 60
    assert client.get("/").status_code == 200


def test_lifetimes_have_sensible_defaults(settings):
    assert settings.SESSION_IDLE_TIMEOUT == 12 * 3600
    assert settings.SESSION_LIFETIME == settings.SESSION_COOKIE_AGE == 7 * 24 * 3600
    assert settings.CSRF_COOKIE_AGE <= settings.SESSION_LIFETIME


def test_the_csrf_cookie_lives_as_long_as_a_login(client):
    answer = client.get("/accounts/login/")
    assert int(answer.cookies["csrftoken"]["max-age"]) == 7 * 24 * 3600
