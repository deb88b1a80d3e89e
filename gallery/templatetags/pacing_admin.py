"""The pacing bucket for the admin home: tokens left, jobs waiting, 429s in the last hour."""

import logging

import redis
from django import template

from gallery.services import pacing

register = template.Library()
log = logging.getLogger(__name__)


@register.simple_tag
def pacing_bucket() -> pacing.BucketState | None:
    """The bucket's state, or None when Redis cannot be read (the page still renders)."""
    try:
        return pacing.state()
    except redis.RedisError as exc:
        log.warning("pacing bucket unreadable: %s", exc)
        return None
