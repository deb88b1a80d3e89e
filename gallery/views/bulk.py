"""Bulk actions on a selection of the grid's images (POST /images/bulk/): tag, untag, add to or
remove from a collection, change visibility, delete, download as a ZIP.

All or nothing: a single id the member may not see refuses the whole request with 404, one
they may see but not change with 403; nothing is skipped quietly. The selection is resolved
in one query through the visibility selector, whatever its size.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.handlers.asgi import ASGIRequest
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from gallery import archive, queries
from gallery.models import Visibility
from gallery.selection import CHANGING_ACTIONS, BulkActionForm
from gallery.services import images as image_service
from gallery.storage import attachment_disposition


@login_required
@require_POST
def bulk(request):
    form = BulkActionForm(request.POST)
    if not form.is_valid():
        return _answer(request, 400, form.first_error())
    data = form.cleaned_data
    action, ids = data["action"], data["ids"]
    images = queries.images_by_ids(request.user, ids)
    if len(images) != len(ids):
        return _answer(
            request,
            404,
            _("Some of these images do not exist or are not yours to see. Nothing was done."),
        )
    if action in CHANGING_ACTIONS and not all(
        image_service.can_change(request.user, image) for image in images
    ):
        return _answer(
            request,
            403,
            _("Some of these images are another member's: only their author may change them. "
              "Nothing was done."),
        )  # fmt: skip
    try:
        return ACTIONS[action](request, images, data)
    except PermissionDenied as exc:
        return _answer(request, 403, str(exc) or _("You may not do that."))
    except ValidationError as exc:
        return _answer(request, 400, exc.messages[0])


def _tag(request, images, data):
    from gallery.services import tags as tag_service

    names = tag_service.add_tags(request.user, images, data["tag_names"])
    shown = ", ".join(names or data["tag_names"])
    message = ngettext(
        "Tagged %(n)d image with %(tags)s.", "Tagged %(n)d images with %(tags)s.", len(images)
    ) % {"n": len(images), "tags": shown}
    return _done(request, message, len(images))


def _untag(request, images, data):
    from gallery.services import tags as tag_service

    tag_service.remove_tags(request.user, images, data["tag_names"])
    message = ngettext(
        "Took %(tags)s off %(n)d image.", "Took %(tags)s off %(n)d images.", len(images)
    ) % {"n": len(images), "tags": ", ".join(data["tag_names"])}
    return _done(request, message, len(images))


def _collection(request, data):
    """The collection named in the request: 404 unless the member may see it, 403 unless they
    may add to it (and take out of it)."""
    pk = data["collection"]
    collection = queries.collections_visible_to(request.user).filter(pk=pk).first()
    if collection is None:
        return None, _answer(request, 404, _("No such collection, or not yours to see."))
    if not queries.collections_addable_by(request.user).filter(pk=pk).exists():
        return None, _answer(request, 403, _("Only its creator may change this collection."))
    return collection, None


def _collect(request, images, data):
    from gallery.services import collections as collection_service

    collection, refusal = _collection(request, data)
    if refusal:
        return refusal
    added = collection_service.add_images(request.user, collection, images)
    message = ngettext(
        "Added %(n)d image to “%(name)s”.", "Added %(n)d images to “%(name)s”.", added
    ) % {"n": added, "name": collection.name}
    return _done(request, message, added)


def _uncollect(request, images, data):
    from gallery.services import collections as collection_service

    collection, refusal = _collection(request, data)
    if refusal:
        return refusal
    removed = collection_service.remove_images(request.user, collection, images)
    message = ngettext(
        "Took %(n)d image out of “%(name)s”.", "Took %(n)d images out of “%(name)s”.", removed
    ) % {"n": removed, "name": collection.name}
    return _done(request, message, removed)


def _visibility(request, images, data):
    visibility = data["visibility"]
    image_service.set_visibility(user=request.user, images=images, visibility=visibility)
    message = ngettext(
        "%(n)d image is now %(visibility)s.", "%(n)d images are now %(visibility)s.", len(images)
    ) % {"n": len(images), "visibility": Visibility(visibility).label}
    return _done(request, message, len(images))


def _delete(request, images, data):
    deleted = image_service.delete_images(user=request.user, images=images)
    message = ngettext("Deleted %(n)d image.", "Deleted %(n)d images.", deleted) % {"n": deleted}
    return _done(request, message, deleted)


def _download(request, images, data):
    entries = archive.entries_for(images, queries.tag_names_of(images))
    stream = archive.zip_stream(entries)
    # Under ASGI an async iterator, or Django reads a sync one whole before sending a byte.
    is_asgi = isinstance(request, ASGIRequest)
    content = archive.pieces_async(stream) if is_asgi else archive.pieces(stream)
    response = StreamingHttpResponse(content, content_type="application/zip")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    name = f"seedgallery-{len(images)}-images-{stamp}.zip"
    response["Content-Disposition"] = attachment_disposition(name)
    response["Cache-Control"] = "private, no-store"
    response["X-Accel-Buffering"] = "no"  # a proxy must pass it on as it comes
    return response


ACTIONS = {
    "tag": _tag,
    "untag": _untag,
    "collect": _collect,
    "uncollect": _uncollect,
    "visibility": _visibility,
    "delete": _delete,
    "download": _download,
}


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _back(request) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("gallery:home")


def _done(request, message: str, count: int):
    messages.success(request, message)  # the page the script reloads shows it too
    if _wants_json(request):
        return JsonResponse({"ok": True, "message": message, "count": count})
    return redirect(_back(request))


def _answer(request, status: int, message: str):
    """A refusal: JSON for the selection bar's script, a page for a plain form post."""
    if _wants_json(request):
        return JsonResponse({"ok": False, "message": message}, status=status)
    context = {"message": message, "back_url": _back(request)}
    return render(request, "gallery/bulk_refused.html", context, status=status)
