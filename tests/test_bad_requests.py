"""Requests anyone can send that used to answer 500: form bodies in another charset, and error
handlers that read the body again. They answer 4xx without a traceback, DEBUG on or off."""

import logging

import pytest
from django.test import RequestFactory

from gallery.views import errors

pytestmark = pytest.mark.django_db

CSRF = "a" * 32
CHARSETS = ["latin-1", "utf-16", "ascii", "iso-8859-1", "utf8"]


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
@pytest.mark.parametrize("charset", CHARSETS)
@pytest.mark.parametrize("url", ["/accounts/login/", "/generate/"])
def test_form_in_another_charset_is_refused_quietly(
    client, alice, settings, caplog, debug, charset, url
):
    settings.DEBUG = debug
    client.force_login(alice)
    client.cookies["csrftoken"] = CSRF
    client.raise_request_exception = False
    body = f"csrfmiddlewaretoken={CSRF}&username=alice&password=x&prompt=caf\u00e9"
    with caplog.at_level(logging.INFO):
        answer = client.post(
            url,
            body if charset != "ascii" else body.replace("\u00e9", "e"),  # the client encodes
            content_type=f"application/x-www-form-urlencoded; charset={charset}",
        )
    assert answer.status_code == 415
    assert "UTF-8" in answer.content.decode()
    assert not [record for record in caplog.records if record.exc_info]
    assert len(caplog.records) <= 2


def test_multipart_in_another_charset_is_refused(alice_client):
    answer = alice_client.post(
        "/generate/",
        "--x\r\nContent-Disposition: form-data; name=prompt\r\n\r\ncaf\xe9\r\n--x--\r\n",
        content_type="multipart/form-data; boundary=x; charset=latin-1",
    )
    assert answer.status_code == 415


def test_utf8_forms_still_work(alice_client):
    answer = alice_client.post(
        "/generate/",
        b"prompt=caf%C3%A9&size=bad",
        content_type="application/x-www-form-urlencoded; charset=UTF-8",
    )
    assert answer.status_code == 400  # the form's own field errors, rendered
    assert "is not of the form WIDTHxHEIGHT" in answer.content.decode()


@pytest.mark.parametrize("handler", [errors.bad_request, errors.server_error])
def test_error_pages_never_read_the_body(handler):
    request = RequestFactory().post(
        "/accounts/login/",
        "username=caf\xe9",
        content_type="application/x-www-form-urlencoded; charset=latin-1",
    )
    answer = handler(request) if handler is errors.server_error else handler(request, None)
    assert answer.status_code in (400, 500)
    assert "Seedgallery" in answer.content.decode()


def test_the_site_uses_its_own_error_handlers():
    from config import urls

    assert urls.handler400 == "gallery.views.errors.bad_request"
    assert urls.handler500 == "gallery.views.errors.server_error"
