"""Share links: make, change, revoke and resolve public links to an image or a collection,
and count their views without a database write per view.

Only a token's SHA-256 is stored. Every way a link can fail (unknown, expired, revoked, its
image hidden or gone, its owner suspended, its target no longer visible to its owner)
resolves to None, so the public views answer all of them with the same page."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac

from gallery import queries
from gallery.models import Collection, Image, ShareLink
from gallery.redis_connection import sync_client

log = logging.getLogger(__name__)

TOKEN_BYTES = 24  # 192 bits from `secrets`; token_urlsafe gives 32 URL-safe characters
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,64}")
# Compared against when a token matches no row, so a miss costs what a hit costs.
_NO_MATCH = hashlib.sha256(b"no share link").hexdigest()
# Checked against when a link has no password row to check, so timing tells nothing.
_DUMMY_PASSWORD_HASH = None

SESSION_UNLOCKED = "share_unlocked"
VIEWS_KEY = "seedgallery:share-views"
LAST_VIEW_KEY = "seedgallery:share-last-view"


class SharingError(Exception):
    """A rule refused the change; `code` is stable, `message` fit for the member."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class LinkChoices:
    """What the share form sets on a link."""

    label: str = ""
    expires_at: datetime | None = None
    allow_download: bool = False
    show_prompt: bool = True


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_link(
    *,
    user,
    choices: LinkChoices,
    password: str = "",
    image: Image | None = None,
    collection: Collection | None = None,
) -> tuple[ShareLink, str]:
    """Make a link to an image or a collection the member may see (a private image: only its
    author or staff). Returns the link and its token, which is shown once and never stored."""
    if (image is None) == (collection is None):
        raise SharingError("one_target", "A link shares one image or one collection.")
    if image is not None and not queries.images_visible_to(user).filter(pk=image.pk).exists():
        raise SharingError("not_visible", "You cannot share this image.")
    if (
        collection is not None
        and not queries.collections_visible_to(user).filter(pk=collection.pk).exists()
    ):
        raise SharingError("not_visible", "You cannot share this collection.")
    _check_expiry(choices.expires_at)
    token = new_token()
    now = timezone.now()
    link = ShareLink.objects.create(
        owner=user,
        image=image,
        collection=collection,
        token_hash=hash_token(token),
        label=choices.label,
        expires_at=choices.expires_at,
        password_hash=make_password(password) if password else "",
        allow_download=choices.allow_download,
        show_prompt=choices.show_prompt,
        created_at=now,
        updated_at=now,
    )
    return link, token


def _check_expiry(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= timezone.now():
        raise SharingError("expiry_past", "The expiry must be in the future.")


def edit_link(
    *,
    user,
    link: ShareLink,
    choices: LinkChoices,
    new_password: str = "",
    remove_password: bool = False,
) -> ShareLink:
    """Change every setting of a link: a blank new password keeps the current one."""
    _require_editable(user, link)
    _check_expiry(choices.expires_at)
    link.label = choices.label
    link.expires_at = choices.expires_at
    link.allow_download = choices.allow_download
    link.show_prompt = choices.show_prompt
    if remove_password:
        link.password_hash = ""
    elif new_password:
        link.password_hash = make_password(new_password)
    link.updated_at = timezone.now()
    link.save()
    return link


def revoke_link(*, user, link: ShareLink) -> ShareLink:
    """Stop a link at once; undo_revoke brings it back for SHARE_UNDO_SECONDS."""
    _require_editable(user, link)
    if link.revoked_at is None:
        now = timezone.now()
        ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(
            revoked_at=now, updated_at=now
        )
        link.refresh_from_db()
    return link


def undo_revoke(*, user, link: ShareLink) -> ShareLink:
    """Bring a just-revoked link back; after SHARE_UNDO_SECONDS it stays revoked."""
    _require_editable(user, link)
    if link.revoked_at is None:
        return link
    cutoff = timezone.now() - timedelta(seconds=settings.SHARE_UNDO_SECONDS)
    restored = ShareLink.objects.filter(pk=link.pk, revoked_at__gte=cutoff).update(
        revoked_at=None, updated_at=timezone.now()
    )
    if not restored:
        raise SharingError("undo_too_late", "This link was revoked too long ago to undo.")
    link.refresh_from_db()
    return link


def _require_editable(user, link: ShareLink) -> None:
    if not queries.share_links_editable_by(user).filter(pk=link.pk).exists():
        raise SharingError("not_yours", "This link is not yours.")


def resolve(token: str) -> ShareLink | None:
    """The live link a token names, or None for every kind of failure alike.

    The lookup is by the token's SHA-256 (a unique index), and the stored hash is compared
    in constant time whether or not a row came back, so neither the query nor the compare
    tells a near miss from a wild guess."""
    shaped = isinstance(token, str) and TOKEN_SHAPE.fullmatch(token) is not None
    digest = hash_token(token if shaped else "")
    link = (
        ShareLink.objects.select_related("owner", "image", "collection")
        .filter(token_hash=digest)
        .first()
        if shaped
        else None
    )
    stored = link.token_hash if link is not None else _NO_MATCH
    if not hmac.compare_digest(stored.encode(), digest.encode()) or link is None:
        return None
    return link if is_live(link) else None


def is_live(link: ShareLink) -> bool:
    """Not revoked or expired, its owner active, its target still visible to its owner."""
    if link.revoked_at is not None:
        return False
    if link.expires_at is not None and link.expires_at <= timezone.now():
        return False
    if not link.owner.is_active:
        return False
    if link.image_id is not None:
        return queries.shared_images(link).exists()
    return queries.collections_visible_to(link.owner).filter(pk=link.collection_id).exists()


def check_link_password(link: ShareLink | None, password: str) -> bool:
    """Whether the password opens the link; a missing link costs one hash check all the same."""
    global _DUMMY_PASSWORD_HASH
    if link is None or not link.password_hash:
        if _DUMMY_PASSWORD_HASH is None:
            _DUMMY_PASSWORD_HASH = make_password(secrets.token_hex(8))
        check_password(password, _DUMMY_PASSWORD_HASH)
        return False
    return check_password(password, link.password_hash)


def _unlock_mark(link: ShareLink) -> str:
    # Tied to the password: changing it locks every browser out again.
    return salted_hmac("share-unlock", f"{link.pk}:{link.password_hash}").hexdigest()[:32]


def unlock(session, link: ShareLink) -> None:
    """Remember in this browser session that the link's password was given."""
    marks = dict(session.get(SESSION_UNLOCKED, {}))
    marks[str(link.pk)] = _unlock_mark(link)
    session[SESSION_UNLOCKED] = marks


def is_unlocked(session, link: ShareLink) -> bool:
    if not link.password_hash:
        return True
    mark = session.get(SESSION_UNLOCKED, {}).get(str(link.pk), "")
    return hmac.compare_digest(mark, _unlock_mark(link))


# --- Views, counted in Redis ------------------------------------------------


def is_unfurl_bot(user_agent: str) -> str | None:
    """The bot's name from SHARE_BOT_AGENTS when the User-Agent is a link unfurler."""
    lowered = user_agent.lower()
    for name in settings.SHARE_BOT_AGENTS:
        if name.lower() in lowered:
            return name.lower()
    return None


def _field(link: ShareLink) -> str:
    # The hash's start beside the id: ids repeat across databases that share a Redis.
    return f"{link.pk}:{link.token_hash[:12]}"


def count_view(link: ShareLink, *, client: str, user_agent: str) -> bool:
    """Count a page view unless this visitor was counted for the link lately: a person once
    per SHARE_VIEW_DEDUP_SECONDS per address and browser, an unfurl bot once a day per bot
    (they fetch from many addresses, and again for every chat the link is pasted in).
    True when counted. Without Redis nothing is counted, and the page still shows."""
    bot = is_unfurl_bot(user_agent)
    if bot:
        who, window = f"bot:{bot}", 24 * 3600
    else:
        fingerprint = hashlib.sha256(f"{client}\n{user_agent}".encode()).hexdigest()[:24]
        who, window = f"v:{fingerprint}", settings.SHARE_VIEW_DEDUP_SECONDS
    field = _field(link)
    try:
        redis_client = sync_client()
        if not redis_client.set(f"seedgallery:share-seen:{field}:{who}", 1, nx=True, ex=window):
            return False
        pipe = redis_client.pipeline()
        pipe.hincrby(VIEWS_KEY, field, 1)
        pipe.hset(LAST_VIEW_KEY, field, f"{time.time():.3f}")
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("share view not counted: %s", exc)
        return False
    return True


def pending_views(links: list[ShareLink]) -> dict[int, int]:
    """Views counted in Redis and not yet written to the rows, by link id."""
    if not links:
        return {}
    try:
        counts = sync_client().hmget(VIEWS_KEY, [_field(link) for link in links])
    except redis.RedisError:
        return {}
    return {link.pk: int(n) for link, n in zip(links, counts, strict=True) if n}


def flush_view_counts() -> int:
    """Move the counted views from Redis to the rows (the periodic task calls this). Takes
    and clears the counters in one Redis transaction; on a database error puts them back."""
    redis_client = sync_client()
    pipe = redis_client.pipeline(transaction=True)
    pipe.hgetall(VIEWS_KEY)
    pipe.hgetall(LAST_VIEW_KEY)
    pipe.delete(VIEWS_KEY, LAST_VIEW_KEY)
    views, last_views, _ = pipe.execute()
    written = 0
    try:
        with transaction.atomic():
            for raw_field, raw_count in views.items():
                field = raw_field.decode()
                pk, _, prefix = field.partition(":")
                last = float(last_views.get(raw_field, time.time()))
                written += ShareLink.objects.filter(
                    pk=int(pk), token_hash__startswith=prefix
                ).update(
                    view_count=F("view_count") + int(raw_count),
                    last_viewed_at=datetime.fromtimestamp(last, tz=UTC),
                )
    except Exception:
        pipe = redis_client.pipeline()
        for raw_field, raw_count in views.items():
            pipe.hincrby(VIEWS_KEY, raw_field, int(raw_count))
        for raw_field, raw_last in last_views.items():
            pipe.hset(LAST_VIEW_KEY, raw_field, raw_last)
        pipe.execute()
        raise
    return written


def preview_jpeg(image: Image) -> bytes:
    """The image's thumbnail as a JPEG, for link unfurlers (not all of them read WebP)."""
    import io

    from PIL import Image as PillowImage

    from gallery.storage import read_object

    with PillowImage.open(io.BytesIO(read_object(image.thumbnail_key))) as picture:
        out = io.BytesIO()
        picture.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()
