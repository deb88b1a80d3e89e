"""Share tokens never reach a log: the filter masks /s/<token> in the site's records, in
uvicorn's and gunicorn's access lines, and in Django's own 404 warnings."""

import io
import logging

import pytest
from django.test import Client

from gallery.log_masking import ShareTokenFilter, install_on_access_loggers, mask_share_tokens

TOKEN = "Zk3-_q9VbN2x7LmPq0RsTuVwXyZa1B2c"


def test_the_mask_replaces_the_token_and_keeps_the_rest():
    assert mask_share_tokens(f"GET /s/{TOKEN}/preview.jpg?x=1") == "GET /s/[token]/preview.jpg?x=1"
    assert mask_share_tokens(f"/s/{TOKEN}") == "/s/[token]"
    assert mask_share_tokens("/images/12/") == "/images/12/"


def _capture(logger_name: str):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    return logger, handler, stream


def test_uvicorns_access_line_is_masked_and_keeps_its_shape():
    from uvicorn.logging import AccessFormatter

    install_on_access_loggers()
    logger, handler, stream = _capture("uvicorn.access")
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'))
    old_level, logger.level = logger.level, logging.INFO
    try:
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/s/{TOKEN}/", "1.1", 200)
    finally:
        logger.removeHandler(handler)
        logger.level = old_level
    line = stream.getvalue()
    assert TOKEN not in line
    assert '"GET /s/[token]/ HTTP/1.1" 200' in line


def test_gunicorns_dict_style_access_record_is_masked():
    record = logging.LogRecord("gunicorn.access", logging.INFO, "", 0, "%(r)s %(s)s", None, None)
    record.args = {"r": f"GET /s/{TOKEN}/ HTTP/1.1", "s": "200"}  # LogRecord unwraps a dict
    ShareTokenFilter().filter(record)
    assert TOKEN not in record.getMessage() and "/s/[token]/" in record.getMessage()


@pytest.mark.django_db
def test_djangos_not_found_warning_for_a_share_path_is_masked(caplog, redis_url):
    handler = logging.getLogger().handlers[0] if logging.getLogger().handlers else None
    assert handler is not None and any(isinstance(f, ShareTokenFilter) for f in handler.filters)
    stream = io.StringIO()
    probe = logging.StreamHandler(stream)
    probe.addFilter(ShareTokenFilter())
    logging.getLogger("django.request").addHandler(probe)
    try:
        Client().get(f"/s/{TOKEN}/")
    finally:
        logging.getLogger("django.request").removeHandler(probe)
    assert "/s/[token]/" in stream.getvalue() and TOKEN not in stream.getvalue()


def test_the_settings_put_the_filter_on_the_console_handler():
    from django.conf import settings

    console = settings.LOGGING["handlers"]["console"]
    assert "share_tokens" in console["filters"]
    assert (
        settings.LOGGING["filters"]["share_tokens"]["()"] == "gallery.log_masking.ShareTokenFilter"
    )


def test_gunicorns_own_atoms_keep_their_type_when_masked():
    from gunicorn.glogging import SafeAtoms

    atoms = SafeAtoms(
        {"r": f"GET /s/{TOKEN}/ HTTP/1.1", "f": f"https://x.test/s/{TOKEN}/", "s": 200}
    )
    record = logging.LogRecord(
        "gunicorn.access", logging.INFO, "", 0, "%(r)s %(f)s %({x-y}i)s", None, None
    )
    record.args = atoms
    ShareTokenFilter().filter(record)
    assert record.args is atoms
    assert record.getMessage() == "GET /s/[token]/ HTTP/1.1 https://x.test/s/[token]/ -"
