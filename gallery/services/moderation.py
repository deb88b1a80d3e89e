"""Moderation: reports from members and visitors, and staff's actions on them."""

from __future__ import annotations

from gallery.models import Image, Report, ShareLink


def file_report(
    image: Image,
    reason: str,
    details: str = "",
    *,
    reporter=None,
    share_link: ShareLink | None = None,
) -> Report:
    """Record a complaint about an image. The caller has checked the reporter may see it and
    applied the rate limit; the reporter is kept for staff only, never shown to the author."""
    if reason not in Report.Reason.values:
        raise ValueError(f"unknown report reason {reason!r}")
    return Report.objects.create(
        image=image,
        reason=reason,
        details=details,
        reporter=reporter if reporter is not None and reporter.is_authenticated else None,
        share_link=share_link,
    )
