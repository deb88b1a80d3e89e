"""Pacing provider calls to the account's images-per-minute limit: one token bucket in Redis,
shared by every worker process and host, with a waiting line that is first in, first out
within a member and fair between members.

Each waiting job holds a ticket: one more than the later of its member's last ticket and the
ticket last served, so a member's 200-image batch takes tickets far ahead while a teammate's
single image gets one near the front (start-time fair queueing). A job may take a token when
fewer jobs than there are tokens stand before it in ticket order, not counting those that are
late back. Everything happens in one
Lua script, so workers on many hosts never hand out the same token twice. A 429 drains the
bucket: no token is handed out until the provider's window has passed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

import redis
from django.conf import settings
from django.utils import timezone

log = logging.getLogger(__name__)

PREFIX = "seedgallery:pacing:"
BUCKET, LINE, EXPIRY, MEMBERS, TICKETS = (
    PREFIX + name for name in ("bucket", "line", "expiry", "members", "tickets")
)
KEYS = (BUCKET, LINE, EXPIRY, MEMBERS, TICKETS)
# A waiter that has not asked again this long after the time it was told leaves the line
# (its worker died, the job was canceled); it keeps its ticket if it comes back.
LATE_GRACE_S = 5.0
# A waiter this late back lets the jobs behind it take the tokens meanwhile, so no token goes
# unused while anyone asks; it keeps its place for the next one.
LATE_SLACK_S = 0.5

_TAKE = """
local bucket, line, expiry, members, tickets = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local job, member = ARGV[1], ARGV[2]
local rate, burst, front = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5] == '1'
local grace, slack = tonumber(ARGV[6]), tonumber(ARGV[7])
local LOOK_AHEAD = 100
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local stale = redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, 200)
for _, gone in ipairs(stale) do
  redis.call('ZREM', line, gone)
  redis.call('ZREM', expiry, gone)
end
local s = redis.call('HMGET', bucket, 'tokens', 'ts', 'blocked_until', 'vt')
local tokens = tonumber(s[1]) or burst
local ts = tonumber(s[2]) or now
local blocked = tonumber(s[3]) or 0
local vt = tonumber(s[4]) or 0
if now < blocked then
  tokens = 0
else
  tokens = math.min(burst, tokens + math.max(0, now - math.max(ts, blocked)) * rate)
end
local ticket = tonumber(redis.call('ZSCORE', line, job))
if not ticket then
  ticket = tonumber(redis.call('HGET', tickets, job))
  if not ticket then
    if front then
      ticket = vt
    else
      ticket = math.max(vt, tonumber(redis.call('HGET', members, member)) or 0) + 1
      redis.call('HSET', members, member, ticket)
    end
    redis.call('HSET', tickets, job, ticket)
  end
  redis.call('ZADD', line, ticket, job)
end
local rank = redis.call('ZRANK', line, job)
-- Jobs ahead that are late back (a busy broker, a slow worker) do not hold the token up: they
-- keep their place and take the next one when they come.
local expected = math.max(0, rank - LOOK_AHEAD)
if rank > 0 then
  for _, other in ipairs(redis.call('ZRANGE', line, 0, math.min(rank, LOOK_AHEAD) - 1)) do
    local gone_at = tonumber(redis.call('ZSCORE', expiry, other))
    if not gone_at or gone_at - grace + slack > now then
      expected = expected + 1
    end
  end
end
if now >= blocked and expected < math.floor(tokens) then
  redis.call('ZREM', line, job)
  redis.call('ZREM', expiry, job)
  redis.call('HDEL', tickets, job)
  redis.call('HSET', bucket, 'tokens', tokens - 1, 'ts', now, 'vt', math.max(vt, ticket))
  if redis.call('ZCARD', line) == 0 then
    redis.call('DEL', tickets)
  end
  return {1, '0'}
end
local wait = math.max(0, blocked - now) + (expected + 1 - tokens) / rate
redis.call('HSET', bucket, 'tokens', tokens, 'ts', now)
redis.call('ZADD', expiry, now + wait + grace, job)
return {0, tostring(wait)}
"""

_DRAIN = """
local bucket = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local blocked = math.max(tonumber(redis.call('HGET', bucket, 'blocked_until')) or 0,
                         now + tonumber(ARGV[1]))
redis.call('HSET', bucket, 'tokens', 0, 'ts', now, 'blocked_until', blocked)
return tostring(blocked - now)
"""

_PEEK = """
local bucket, line, expiry = KEYS[1], KEYS[2], KEYS[3]
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local s = redis.call('HMGET', bucket, 'tokens', 'ts', 'blocked_until')
local tokens = tonumber(s[1]) or burst
local blocked = tonumber(s[3]) or 0
if now < blocked then
  tokens = 0
else
  local ts = tonumber(s[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - math.max(ts, blocked)) * rate)
end
local waiting = redis.call('ZCOUNT', expiry, now, '+inf')
return {tostring(tokens), waiting, tostring(math.max(0, blocked - now))}
"""


@dataclass(frozen=True)
class Turn:
    """The answer to asking for a token: granted, or the seconds to wait before asking again."""

    granted: bool
    wait: float = 0.0


@dataclass(frozen=True)
class BucketState:
    """What the admin home shows: tokens left, jobs waiting for one, seconds still drained."""

    limit: int
    tokens: float
    waiting: int
    blocked_for: float
    rate_limited_last_hour: int


def enabled() -> bool:
    return settings.SEEDREAM_IPM_LIMIT > 0


def refill_per_second() -> float:
    """A little under the limit: with a full bucket of `burst` tokens to start, no sliding
    minute holds more than the limit, even with a burst's worth of jitter on the way."""
    limit, burst = settings.SEEDREAM_IPM_LIMIT, settings.SEEDREAM_IPM_BURST
    return (limit - 2 * burst) / 60.0


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


@cache
def _script(source: str, url: str):
    return _client(url).register_script(source)


def take(*, job_id: int, member_id: int, front: bool = False) -> Turn:
    """Ask for one token for one image of `job_id`. `front` puts a job that met a 429 back at
    the head of the line rather than behind its member's other jobs."""
    result = _script(_TAKE, settings.REDIS_URL)(
        keys=KEYS,
        args=[
            f"{job_id:012d}",  # equal tickets go by job id, that is by arrival
            str(member_id),
            repr(refill_per_second()),
            settings.SEEDREAM_IPM_BURST,
            "1" if front else "0",
            repr(LATE_GRACE_S),
            repr(LATE_SLACK_S),
        ],
    )
    return Turn(granted=bool(int(result[0])), wait=float(result[1]))


def drain(seconds: float) -> float:
    """The provider answered 429: hand out no token for `seconds`; returns how long the
    bucket now stays drained (a later block already set may be longer)."""
    return float(_script(_DRAIN, settings.REDIS_URL)(keys=[BUCKET], args=[repr(seconds)]))


def state() -> BucketState:
    """The bucket as the admin home shows it."""
    from gallery.models import ProviderCall  # models stay out of the worker's hot path

    since = timezone.now() - timedelta(hours=1)
    limited = ProviderCall.objects.filter(started_at__gte=since, error_code="rate_limited").count()
    if not enabled():
        return BucketState(0, 0.0, 0, 0.0, limited)
    tokens, waiting, blocked = _script(_PEEK, settings.REDIS_URL)(
        keys=[BUCKET, LINE, EXPIRY],
        args=[repr(refill_per_second()), settings.SEEDREAM_IPM_BURST],
    )
    return BucketState(
        settings.SEEDREAM_IPM_LIMIT, float(tokens), int(waiting), float(blocked), limited
    )


def reset() -> None:
    """Forget the bucket and the line (tests and benchmarks)."""
    _client(settings.REDIS_URL).delete(*KEYS)


def waiting_ids() -> set[int]:
    """Jobs waiting in line for a token (their message is held back with a countdown), so the
    sweeper does not queue them again; empty when nothing paces."""
    if not enabled():
        return set()
    try:
        return {int(job) for job in _client(settings.REDIS_URL).zrange(EXPIRY, 0, -1)}
    except redis.RedisError as exc:
        log.warning("pacing line unreadable: %s", exc)
        return set()
