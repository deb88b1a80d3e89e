"""Personal API tokens: create, check, revoke, and the per-token rate limit.

A token is `sg_` and 40 random characters; only its SHA-256 is stored, so a leaked database
holds no usable token. Checking a token costs one indexed query and no write: the last-used
time is written at most once a minute.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from datetime import timedelta

import redis
from django.conf import settings
from django.utils import timezone

from gallery.models import ApiToken
from gallery.redis_connection import sync_client

log = logging.getLogger(__name__)

TOKEN_PREFIX = "sg_"
LAST_USED_RESOLUTION = timedelta(minutes=1)
NAME_MAX_CHARS = 100


class TokenNameError(ValueError):
    code = "invalid_name"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create(*, user, name: str) -> tuple[ApiToken, str]:
    """A new token for the member; the raw token is returned here and never again."""
    name = (name or "").strip()
    if not name:
        raise TokenNameError("Give the token a name.")
    if len(name) > NAME_MAX_CHARS:
        raise TokenNameError(f"A token name has at most {NAME_MAX_CHARS} characters.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(30)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=raw[: len(TOKEN_PREFIX) + 6], key_hash=hash_token(raw)
    )
    return token, raw


def revoke(*, user, token_id: int) -> bool:
    """Revoke one of the member's own tokens; False when there is no such live token."""
    return bool(
        ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    )


def tokens_of(user):
    return ApiToken.objects.filter(user=user)


def authenticate(raw: str) -> ApiToken | None:
    """The live token for a raw token string, with its active member; None otherwise."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_token(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def bearer_token(authorization: str) -> str:
    """The token of an `Authorization: Bearer ...` header, or ''."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return value.strip()


# --- Rate limit -----------------------------------------------------------------


class RateLimited(Exception):
    code = "rate_limited"

    def __init__(self, *, limit: int, retry_after: int) -> None:
        self.limit, self.retry_after = limit, retry_after
        self.message = (
            f"This token made more than {limit} requests in a minute; try again in {retry_after} s."
        )
        super().__init__(self.message)


def check_rate(token: ApiToken) -> None:
    """Count one request against the token's per-minute limit; RateLimited when over it.

    A fixed one-minute window in Redis. Without Redis the request is let through (and
    logged): the limit protects the provider budget, which the daily quota also guards.
    """
    limit = settings.API_TOKEN_RATE_LIMIT
    if limit <= 0:
        return
    now = time.time()
    window = int(now // 60)
    # Keyed by the token's hash, not its id: ids repeat across databases sharing a Redis.
    key = f"seedgallery:api-rate:{token.key_hash[:24]}:{window}"
    try:
        pipe = sync_client().pipeline()
        pipe.incr(key)
        pipe.expire(key, 120)
        count, _ = pipe.execute()
    except redis.RedisError as exc:
        log.warning("rate limit not checked for token %s: %s", token.pk, exc)
        return
    if count > limit:
        raise RateLimited(limit=limit, retry_after=max(1, int((window + 1) * 60 - now)))
