"""Redis clients for the app's own use (rate limits, generation events), one pool per URL."""

from __future__ import annotations

import redis
from django.conf import settings

_clients: dict[str, redis.Redis] = {}


def sync_client() -> redis.Redis:
    """A pooled client for REDIS_URL, shared by the process's threads."""
    url = settings.REDIS_URL
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return _clients[url]


def async_client():
    """A new asyncio client for REDIS_URL; close it with `await client.aclose()`.

    Not shared: an asyncio connection belongs to the event loop that opened it.
    """
    import redis.asyncio

    return redis.asyncio.Redis.from_url(url=settings.REDIS_URL, socket_connect_timeout=2)
