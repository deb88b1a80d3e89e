"""Request guards the whole site shares (form charsets, admin date lookups, session lifetime,
no caching of members' pages) and static files. Each is async-capable: under ASGI one
sync-only middleware would put every request below it, the gateway's waits included, in a
thread of its own (tests/test_asgi_serving.py)."""

from __future__ import annotations

import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth import logout
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.deprecation import MiddlewareMixin
from django.utils.translation import gettext as _
from whitenoise.middleware import WhiteNoiseMiddleware

FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class FormCharsetMiddleware(MiddlewareMixin):
    """Refuse a form body declared in any charset but UTF-8 (415) before anything reads it:
    Django raises on such a body wherever it is read, error handlers included."""

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        charset = request.content_params.get("charset")
        if (
            request.content_type in FORM_CONTENT_TYPES
            and charset is not None
            and charset.strip().lower() != "utf-8"
        ):
            return HttpResponse(
                _("Forms must be sent as UTF-8."),
                status=415,
                content_type="text/plain; charset=utf-8",
            )
        return None


# Date parts the admin's date filters and hierarchy accept, with the values that make a date.
# Years stop at 9998: a filter on year Y asks for dates before Y+1.
DATE_PART_RANGES = {
    "year": (1, 9998),
    "iso_year": (1, 9998),
    "quarter": (1, 4),
    "month": (1, 12),
    "week": (1, 53),
    "day": (1, 31),
    "week_day": (1, 7),
    "iso_week_day": (1, 7),
    "hour": (0, 23),
    "minute": (0, 59),
    "second": (0, 59),
}
COMPARISONS = {"exact", "gt", "gte", "lt", "lte"}


class AdminDateLookupMiddleware(MiddlewareMixin):
    """Answer 400 to an admin list filtered by a date part no date has (`created_at__year=0`,
    `=9999`): the database layer would raise building the range."""

    def process_request(self, request: HttpRequest) -> None:
        if request.path.startswith(reverse("admin:index")):
            for key, values in request.GET.lists():
                bounds = _date_part_bounds(key)
                if bounds and not all(_within(value, bounds) for value in values):
                    raise BadRequest(f"{key} is out of range")


def _date_part_bounds(key: str) -> tuple[int, int] | None:
    parts = key.split("__")
    if len(parts) > 2 and parts[-1] in COMPARISONS:
        parts = parts[:-1]
    if len(parts) < 2:
        return None
    return DATE_PART_RANGES.get(parts[-1])


def _within(value: str, bounds: tuple[int, int]) -> bool:
    try:
        number = int(value)
    except ValueError:
        return True  # not a number: the admin reports it as a bad lookup itself
    return bounds[0] <= number <= bounds[1]


SESSION_STARTED = "_seedgallery_started"
SESSION_SEEN = "_seedgallery_seen"
# Record activity at most this often, so a page's polling does not write the session each time.
SEEN_RESOLUTION_S = 60


class SessionLifetimeMiddleware(MiddlewareMixin):
    """Log a member out SESSION_IDLE_TIMEOUT seconds after their last request, and
    SESSION_LIFETIME seconds after they logged in, whichever comes first."""

    def process_request(self, request: HttpRequest) -> None:
        if request.user.is_authenticated:
            now = int(time.time())
            session = request.session
            started = session.setdefault(SESSION_STARTED, now)
            seen = session.get(SESSION_SEEN, now)
            if (
                now - started > settings.SESSION_LIFETIME
                or now - seen > settings.SESSION_IDLE_TIMEOUT
            ):
                logout(request)
            elif now - seen >= SEEN_RESOLUTION_S or SESSION_SEEN not in session:
                session[SESSION_SEEN] = now


def mark_session_start(sender, request, user, **kwargs) -> None:
    """user_logged_in receiver: a new login starts both clocks."""
    now = int(time.time())
    request.session[SESSION_STARTED] = now
    request.session[SESSION_SEEN] = now


class PrivateCacheMiddleware(MiddlewareMixin):
    """A member's pages (presigned image URLs, CSRF tokens) must not be kept by any cache."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)  # drops any `public`
        return response


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, able to run in an async chain: it awaits the next layer directly and only
    hops to a thread to serve a static file (WhiteNoise's own middleware is sync-only)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self._is_async:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request):
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file, thread_sensitive=False)(
                request.path_info
            )
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve, thread_sensitive=False)(static_file, request)
        return await self.get_response(request)
