"""The DEBUG error page and error reports never show a password held inside a URL setting."""

import sys
from urllib.parse import urlsplit

import pytest
from django.test import RequestFactory
from django.views.debug import technical_500_response

from gallery.error_reports import SecretUrlReporterFilter

URLS = {
    "DATABASE_URL": "postgres://gallery:db-hunter2@db.internal:5432/seedgallery",
    "REDIS_URL": "redis://:redis-hunter2@cache.internal:6379/0",
    "CELERY_BROKER_URL": "rediss://worker:broker-hunter2@cache.internal:6380/1",
}


@pytest.fixture
def secret_urls(settings):
    for name, value in URLS.items():
        setattr(settings, name, value)
    settings.DEBUG = True


def test_debug_page_masks_passwords_in_url_settings(secret_urls):
    request = RequestFactory().get("/boom")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        page = technical_500_response(request, *sys.exc_info()).content.decode()
    for url in URLS.values():
        password = urlsplit(url).password
        assert password not in page
    assert "db.internal:5432/seedgallery" in page  # the rest stays readable
    assert "gallery:********************@db.internal" in page


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("postgres://u:p%40ss@h/db", "postgres://u:********************@h/db"),
        ("redis://:pw@h:6379/0", "redis://:********************@h:6379/0"),
        ("redis://h:6379/0", "redis://h:6379/0"),
        ("http://127.0.0.1:8333", "http://127.0.0.1:8333"),
    ],
)
def test_url_passwords_are_masked_and_the_rest_kept(value, masked):
    assert SecretUrlReporterFilter().cleanse_setting("SOME_URL", value) == masked
