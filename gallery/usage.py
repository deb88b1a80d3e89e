"""Usage for the admin's usage pages: images made today, this month and in total, provider
errors by code, quota used, and a 30-day images-per-day chart drawn as server-side SVG, and the
form that edits a member's daily limit. A fixed handful of grouped queries however many
members there are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gallery.models import Generation, MemberQuota, ProviderCall

CHART_DAYS = 30
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 720, 200, 28


def _day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _made(queryset):
    """Generations that became an image (the image may have been deleted since)."""
    return queryset.filter(status=Generation.Status.SUCCEEDED)


def _counts(now: datetime) -> dict:
    today = _day_start(now)
    month = today.replace(day=1)
    return dict(
        today=Count("id", filter=Q(created_at__gte=today)),
        month=Count("id", filter=Q(created_at__gte=month)),
        total=Count("id"),
    )


def _quota_used_filter(now: datetime) -> Q:
    """The quota's own rule (generation.images_used_today) as a filter, for many members."""
    start = _day_start(now)
    return (
        (Q(created_at__gte=start) | Q(retried_at__gte=start))
        & ~Q(status=Generation.Status.CANCELED)
        & ~Q(status=Generation.Status.FAILED, provider_result__isnull=True)
    )


@dataclass(frozen=True)
class Bar:
    day: date
    count: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    peak: int
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    pad: int = CHART_PAD

    @property
    def baseline(self) -> int:
        return self.height - self.pad

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"

    @property
    def total(self) -> int:
        return sum(b.count for b in self.bars)


def images_per_day(generations, now: datetime | None = None) -> Chart:
    """The last CHART_DAYS days (today included), zero days drawn too, bars scaled to the
    busiest day."""
    now = now or timezone.now()
    first = (_day_start(now) - timedelta(days=CHART_DAYS - 1)).date()
    counted = dict(
        _made(generations)
        .filter(created_at__gte=_day_start(now) - timedelta(days=CHART_DAYS - 1))
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("day", "n")
    )
    days = [first + timedelta(days=i) for i in range(CHART_DAYS)]
    peak = max([counted.get(d, 0) for d in days] + [0])
    plot_height = CHART_HEIGHT - 2 * CHART_PAD
    slot = (CHART_WIDTH - 2 * CHART_PAD) / CHART_DAYS
    bars = []
    for i, day in enumerate(days):
        n = counted.get(day, 0)
        height = plot_height * n / peak if peak else 0
        bars.append(
            Bar(
                day=day,
                count=n,
                x=round(CHART_PAD + i * slot + slot * 0.1, 1),
                y=round(CHART_HEIGHT - CHART_PAD - height, 1),
                width=round(slot * 0.8, 1),
                height=round(height, 1),
            )
        )
    return Chart(bars=bars, peak=peak)


def _errors(calls) -> list[dict]:
    return list(
        calls.exclude(error_code="")
        .values("error_code", "provider_error_code")
        .annotate(n=Count("id"))
        .order_by("-n", "error_code")
    )


def team_usage(now: datetime | None = None) -> dict:
    """Every member's row (one grouped query each for counts, quota use, limits and errors)
    and the team's totals and chart."""
    now = now or timezone.now()
    month = _day_start(now).replace(day=1)
    User = get_user_model()
    made = {
        row["user_id"]: row
        for row in _made(Generation.objects.all())
        .values("user_id")
        .annotate(**_counts(now))
        .order_by()
    }
    used = dict(
        Generation.objects.filter(_quota_used_filter(now))
        .values("user_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("user_id", "n")
    )
    limits = dict(MemberQuota.objects.values_list("user_id", "daily_image_limit"))
    errors = dict(
        ProviderCall.objects.filter(started_at__gte=month)
        .exclude(error_code="")
        .values("user_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("user_id", "n")
    )
    members = []
    for user in User.objects.order_by("username").only("id", "username", "is_active"):
        counts = made.get(user.pk, {})
        limit = limits.get(user.pk, settings.GENERATION_DAILY_IMAGE_LIMIT)
        members.append(
            {
                "user": user,
                "today": counts.get("today", 0),
                "month": counts.get("month", 0),
                "total": counts.get("total", 0),
                "quota_used": used.get(user.pk, 0),
                "quota_limit": limit,
                "errors_month": errors.get(user.pk, 0),
            }
        )
    totals = _made(Generation.objects.all()).aggregate(**_counts(now))
    return {
        "members": members,
        "totals": totals,
        "errors": _errors(ProviderCall.objects.filter(started_at__gte=month)),
        "errors_total": _errors(ProviderCall.objects.all()),
        "chart": images_per_day(Generation.objects.all(), now),
    }


def member_usage(member, now: datetime | None = None) -> dict:
    from gallery.services.generation import daily_limit, images_used_today

    now = now or timezone.now()
    month = _day_start(now).replace(day=1)
    generations = Generation.objects.filter(user=member)
    calls = ProviderCall.objects.filter(user=member)
    return {
        "totals": _made(generations).aggregate(**_counts(now)),
        "quota_used": images_used_today(member),
        "quota_limit": daily_limit(member),
        "errors": _errors(calls.filter(started_at__gte=month)),
        "errors_total": _errors(calls),
        "chart": images_per_day(generations, now),
    }


class QuotaForm(forms.Form):
    """The member's daily image limit; empty means the site default."""

    daily_image_limit = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=1_000_000,
        label=_("Daily image limit"),
        help_text=_("Empty: the site default."),
    )

    def __init__(self, *args, member, **kwargs):
        self.member = member
        current = MemberQuota.objects.filter(user=member).first()
        kwargs.setdefault(
            "initial", {"daily_image_limit": current.daily_image_limit if current else None}
        )
        super().__init__(*args, **kwargs)

    def save(self) -> None:
        limit = self.cleaned_data["daily_image_limit"]
        if limit is None:
            MemberQuota.objects.filter(user=self.member).delete()
            return
        MemberQuota.objects.update_or_create(
            user=self.member, defaults={"daily_image_limit": limit}
        )
