"""Share tokens never reach a log: a filter that masks `/s/<token>` in a record's message and
arguments, on the site's console handler and on the web servers' access loggers."""

from __future__ import annotations

import logging
import re

# The path segment after /s/ (a token or anything a visitor typed there).
SHARE_PATH = re.compile(r"(/s/)[^/?#\s\"']+")
MASK = r"\1[token]"
# Loggers that write access lines with handlers of their own (not the root's console).
ACCESS_LOGGERS = ("uvicorn.access", "gunicorn.access", "django.server", "uvicorn.error")


def mask_share_tokens(text: str) -> str:
    return SHARE_PATH.sub(MASK, text)


def _masked(value):
    if isinstance(value, str):
        return mask_share_tokens(value)
    if isinstance(value, bytes):
        return _masked(value.decode("utf-8", "replace"))
    return value


class ShareTokenFilter(logging.Filter):
    """Rewrite, never drop: the record keeps its format and argument shapes (uvicorn's access
    formatter unpacks a 5-tuple, gunicorn's reads a dict), with every string masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_share_tokens(record.msg)
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(_masked(arg) for arg in args)
        elif isinstance(args, dict):  # in place: gunicorn's atoms are a dict subclass
            for key, value in list(args.items()):
                if isinstance(value, str | bytes):
                    args[key] = _masked(value)
        request = getattr(record, "request", None)  # django.request's 404 and 500 records
        if request is not None and "/s/" in getattr(request, "path", ""):
            record.request = None
        return True


def install_on_access_loggers() -> None:
    """Attach the filter to the access loggers, whose records never pass the root's handler."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ShareTokenFilter) for f in logger.filters):
            logger.addFilter(ShareTokenFilter())
