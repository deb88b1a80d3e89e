"""Moderation: reports from members and visitors, and staff's actions on them. Every action
writes a ModerationEvent (who, what, on which objects, why) in the same transaction as the
change, so the log and the gallery never disagree."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.template.defaultfilters import truncatechars
from django.utils import timezone
from django.utils.translation import gettext as _

from gallery.models import Image, ModerationEvent, Report, ShareLink
from gallery.services import generation as generation_service
from gallery.services import images as image_service

REASON_MAX_CHARS = 2000


class ModerationError(Exception):
    """An action staff asked for that cannot be done as asked; `message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AlreadyReported(ModerationError):
    """The member has an open report of this image already."""


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


def report_by_member(*, member, image: Image, reason: str, details: str = "") -> Report:
    """A member's report from the image page: not of their own image (they can delete or hide
    it themselves), and one open report per member and image, so repeats add nothing."""
    if image.owner_id == member.pk:
        raise ModerationError(_("You cannot report your own image; you can delete it instead."))
    with transaction.atomic():
        # Serialise one member's reports so a double click cannot file two.
        get_user_model().objects.select_for_update().filter(pk=member.pk).first()
        if Report.objects.filter(image=image, reporter=member, resolved_at__isnull=True).exists():
            raise AlreadyReported(_("You have already reported this image; staff will look at it."))
        return file_report(image, reason, details, reporter=member)


# --- Staff actions ----------------------------------------------------------------


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ModerationError(_("Give a reason: it goes into the moderation log."))
    if len(reason) > REASON_MAX_CHARS:
        raise ModerationError(
            _("The reason is too long (at most %(n)s characters).") % {"n": REASON_MAX_CHARS}
        )
    return reason


def _require_staff(actor) -> None:
    if not (actor.is_active and actor.is_staff):
        raise PermissionDenied("Only staff may moderate.")


def _image_targets(images: Iterable[Image]) -> list[dict]:
    return [
        {"type": "image", "id": i.pk, "label": truncatechars(i.prompt, 80), "owner": i.owner_id}
        for i in images
    ]


def _log(actor, action: str, targets: list[dict], reason: str) -> ModerationEvent:
    return ModerationEvent.objects.create(
        actor=actor, actor_name=actor.get_username(), action=action, targets=targets, reason=reason
    )


def _resolve_reports(image_ids: list[int], resolution: str) -> int:
    return Report.objects.filter(image_id__in=image_ids, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolution=resolution
    )


def _locked_images(images) -> list[Image]:
    return list(Image.objects.select_for_update().filter(pk__in=_ids(images)).order_by("pk"))


def approve(*, actor, images, reason: str) -> ModerationEvent:
    """The images are fine: close their open reports, so they leave the queue."""
    return _act_on_images(actor, images, reason, action="approve", resolution="approved")


def hide(*, actor, images, reason: str) -> ModerationEvent:
    """Take the images out of every gallery view, search, collection, share link and the
    explore page at once (visible_images_rule excludes hidden ones); close their reports."""
    return _act_on_images(actor, images, reason, action="hide", resolution="hidden", is_hidden=True)


def unhide(*, actor, images, reason: str) -> ModerationEvent:
    """Put hidden images back where their visibility allows."""
    return _act_on_images(actor, images, reason, action="unhide", is_hidden=False)


def _act_on_images(actor, images, reason, *, action, resolution="", **changes) -> ModerationEvent:
    _require_staff(actor)
    reason = _clean_reason(reason)
    with transaction.atomic():
        rows = _locked_images(images)
        if not rows:
            raise ModerationError(_("No images selected."))
        ids = [row.pk for row in rows]
        if changes:
            Image.objects.filter(pk__in=ids).update(**changes)
        if resolution:
            _resolve_reports(ids, resolution)
        return _log(actor, action, _image_targets(rows), reason)


def delete(*, actor, images, reason: str) -> ModerationEvent:
    """Delete the images (their reports go with them) through the members' delete service, so
    their S3 objects are purged after the commit; the log keeps what they were."""
    _require_staff(actor)
    reason = _clean_reason(reason)
    with transaction.atomic():
        rows = _locked_images(images)
        if not rows:
            raise ModerationError(_("No images selected."))
        event = _log(actor, "delete", _image_targets(rows), reason)
        for row in rows:
            image_service.delete_image(user=actor, image=row)
    return event


def _user_targets(users) -> list[dict]:
    return [{"type": "user", "id": u.pk, "label": u.get_username()} for u in users]


def suspend(*, actor, users, reason: str) -> ModerationEvent:
    """Members can no longer log in, generate or use their API tokens (all check is_active),
    their share links answer 404, their open sessions end now and their jobs that have not
    started are canceled."""
    _require_staff(actor)
    reason = _clean_reason(reason)
    User = get_user_model()
    with transaction.atomic():
        rows = list(User.objects.select_for_update().filter(pk__in=_ids(users)).order_by("pk"))
        if not rows:
            raise ModerationError(_("No members selected."))
        if any(u.pk == actor.pk for u in rows):
            raise ModerationError(_("You cannot suspend yourself."))
        if any(u.is_superuser for u in rows) and not actor.is_superuser:
            raise ModerationError(_("Only a superuser can suspend a superuser."))
        User.objects.filter(pk__in=[u.pk for u in rows]).update(is_active=False)
        end_sessions({u.pk for u in rows})
        generation_service.cancel_all_queued([u.pk for u in rows])
        return _log(actor, "suspend", _user_targets(rows), reason)


def unsuspend(*, actor, users, reason: str) -> ModerationEvent:
    """Let suspended members log in again (their tokens and share links work again too)."""
    _require_staff(actor)
    reason = _clean_reason(reason)
    User = get_user_model()
    with transaction.atomic():
        rows = list(User.objects.select_for_update().filter(pk__in=_ids(users)).order_by("pk"))
        if not rows:
            raise ModerationError(_("No members selected."))
        User.objects.filter(pk__in=[u.pk for u in rows]).update(is_active=True)
        return _log(actor, "unsuspend", _user_targets(rows), reason)


def _ids(objects) -> list[int]:
    if isinstance(objects, QuerySet):
        return list(objects.values_list("pk", flat=True))
    return [o.pk for o in objects]


def end_sessions(user_ids: set[int]) -> int:
    """Delete the database sessions of these members. Sessions are not indexed by user, so
    this reads the live ones; is_active=False already makes each look anonymous on its next
    request, this removes them outright."""
    ended = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        user_id = session.get_decoded().get("_auth_user_id")
        if user_id is not None and int(user_id) in user_ids:
            ended.append(session.pk)
    Session.objects.filter(pk__in=ended).delete()
    return len(ended)
