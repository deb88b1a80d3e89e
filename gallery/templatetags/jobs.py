"""Template filters for job pages: how long a job has taken, in words."""

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def duration(seconds: int) -> str:
    """12 → "12 s", 75 → "1 min 15 s", 3700 → "1 h 1 min"."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return _("%(s)d s") % {"s": seconds}
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return _("%(m)d min %(s)d s") % {"m": minutes, "s": seconds}
    hours, minutes = divmod(minutes, 60)
    return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
