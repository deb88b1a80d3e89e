"""Login throttling on top of django-axes: a username is locked only together with the
address it was guessed from, so a stranger cannot lock a member out by name alone, and an
address that guesses too often is locked for every name."""

from __future__ import annotations

from math import ceil

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest
from django.shortcuts import render


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or with TRUSTED_PROXY_HOPS proxies in front, the
    X-Forwarded-For entry the outermost trusted proxy appended."""
    hops = settings.TRUSTED_PROXY_HOPS
    if hops:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR")


class LoginThrottleHandler(AxesDatabaseHandler):
    """Axes locks on (username, address) after AXES_FAILURE_LIMIT failures; this adds the
    per-address limit LOGIN_IP_FAILURE_LIMIT over all names."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        pair = super().get_failures(request, credentials)
        attempts = AccessAttempt.objects.filter(ip_address=request.axes_ip_address)
        if settings.AXES_COOLOFF_TIME is not None:
            attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
        address = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
        # Axes compares one count with one limit: express the address's count in units of it,
        # so it reaches AXES_FAILURE_LIMIT exactly when it reaches LOGIN_IP_FAILURE_LIMIT.
        scaled = address * settings.AXES_FAILURE_LIMIT // settings.LOGIN_IP_FAILURE_LIMIT
        return max(pair, scaled)


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the site's own page saying how long the pause lasts (429)."""
    minutes = max(1, ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return render(request, "registration/locked_out.html", {"lockout_minutes": minutes}, status=429)
