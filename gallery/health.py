"""Reachability of the services the app needs: database, Redis and S3.

Each check returns None when the service answers, else one line saying which service failed,
where it was looked for, and how to fix it. /healthz, `check_services` and the worker's
start-up all use them.
"""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connections


def check_database() -> str | None:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not reachable"
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        return (
            f"database ({engine}) is unreachable: {_first_line(exc)}. "
            "Check DATABASE_URL (unset means SQLite under .local/)."
        )
    return None


def check_redis() -> str | None:
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2
        )
        client.ping()
    except Exception as exc:
        return (
            f"Redis at {_redact(settings.REDIS_URL)} is unreachable: {_first_line(exc)}. "
            "Start redis-server or set REDIS_URL."
        )
    return None


def check_s3() -> str | None:
    from gallery.storage import shared_s3_client

    try:  # the process's pooled client: no new session (tens of ms, ~10 MB) per probe
        shared_s3_client().head_bucket(Bucket=settings.AWS_STORAGE_BUCKET_NAME)
    except Exception as exc:
        return (
            f"S3 bucket {settings.AWS_STORAGE_BUCKET_NAME!r} at {settings.AWS_S3_ENDPOINT_URL} "
            f"is unreachable: {_first_line(exc)}. Start SeaweedFS (make dev does) or check "
            "AWS_S3_ENDPOINT_URL and the AWS_* credentials; run `manage.py ensure_bucket`."
        )
    return None


CHECKS = {"database": check_database, "redis": check_redis, "s3": check_s3}


def check_all() -> dict[str, str | None]:
    """Every check by name: None where the service is fine, else the problem."""
    return {name: check() for name, check in CHECKS.items()}


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _redact(url: str) -> str:
    # redis://:password@host -> redis://***@host
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
