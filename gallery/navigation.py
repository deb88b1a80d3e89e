"""What the navigation shows on every page: the count of the member's running jobs and the
member's saved searches (one query each, made only when a page draws the navigation)."""

from django.utils.functional import SimpleLazyObject

from gallery import queries


def running_jobs(request) -> dict:
    """Counted only when a page draws the navigation; partials never pay for it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "running_job_count": SimpleLazyObject(lambda: queries.running_count(user)),
        "saved_searches": SimpleLazyObject(
            lambda: list(queries.saved_searches_of(user)[: queries.SAVED_SEARCHES_IN_NAV])
        ),
    }
