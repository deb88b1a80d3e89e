"""Rate limits on public pages, per client address (the one the login throttle uses, behind
TRUSTED_PROXY_HOPS proxies): django-ratelimit counting in Redis."""

from __future__ import annotations

from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_ratelimit.core import is_ratelimited

from gallery.login_throttle import client_ip


class RedisUrlCache(RedisCache):
    """Django's Redis cache at REDIS_URL as it is now, not when the settings module was read
    (the test services and the dev stack set it later; a per-thread cache object made before
    would otherwise count in another Redis)."""

    def __init__(self, server, params):
        super().__init__(settings.REDIS_URL, params)

    @property
    def _cache(self):
        url = settings.REDIS_URL
        if self.__dict__.get("_client_url") != url:
            self._servers = [url]
            self.__dict__["_client"] = self._class(self._servers, **self._options)
            self.__dict__["_client_url"] = url
        return self.__dict__["_client"]


def client_key(group: str, request: HttpRequest) -> str:
    return client_ip(request) or "unknown"


def over_limit(request: HttpRequest, group: str, rate: str) -> bool:
    """Count this request in `group` for the client's address; True when it is over `rate`."""
    return is_ratelimited(
        request, group=f"share:{group}", key=client_key, rate=rate, increment=True
    )


def too_many_requests(request: HttpRequest) -> HttpResponse:
    """The friendly 429 page: say to wait, reveal nothing else."""
    response = render(request, "gallery/share/too_many.html", status=429)
    response["Retry-After"] = "60"
    return response
