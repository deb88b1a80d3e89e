"""Jobs you can find again: the Jobs page, and the running-jobs strip above the gallery."""

from datetime import UTC, datetime, timedelta

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from gallery import queries


@require_safe
@login_required
def jobs(request):
    pages = Paginator(queries.batches_visible_to(request.user), queries.JOBS_PAGE_SIZE)
    page = pages.get_page(request.GET.get("page"))
    context = {
        "batches": page.object_list,
        "page": page,
        "everyone": request.user.is_staff,
        "any_running": any(row["running"] for row in page.object_list),
        "nav": "jobs",
    }
    return render(request, "gallery/jobs.html", context)


@require_safe
@login_required
def running_jobs(request):
    """The strip's contents: running jobs, and those that finished since the gallery loaded
    (`since`, epoch seconds), so a finished job turns into its new tile in place."""
    since = _since(request.GET.get("since"))
    generations = queries.running_strip_of(request.user, since=since)
    context = {
        "strip": True,
        "strip_jobs": generations,
        "since": int(since.timestamp()),
        "strip_active": any(g.is_active for g in generations),
    }
    return render(request, "gallery/partials/running_jobs.html", context)


def _since(raw: str | None) -> datetime:
    now = timezone.now()
    try:
        value = datetime.fromtimestamp(int(raw), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return now
    # A stale or forged value shows at most an hour of finished jobs.
    return min(max(value, now - timedelta(hours=1)), now)
