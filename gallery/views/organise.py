"""Keeping images in order: tags, collections and saved searches. Views parse and render; the
rules live in gallery/services/tags.py and collections.py, the reads in gallery/queries.py."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from gallery import queries
from gallery.forms import GalleryFilterForm
from gallery.models import SavedSearch
from gallery.services import collections as collection_service
from gallery.services import tags as tag_service
from gallery.tags import TAG_MAX_LENGTH, normalise_tag
from gallery.views.browse import render_image_list

MAX_ID = 2**63 - 1  # larger ids cannot exist; refuse them before the database sees them


# --- tags ---------------------------------------------------------------------------------------


def _visible_image(request, pk: int):
    image = queries.image_for_page(request.user, pk) if pk <= MAX_ID else None
    if image is None:
        raise Http404(_("No such image."))
    return image


def _changeable_image(request, pk: int):
    """404 when the member may not see the image, 403 when they may see but not change it."""
    image = _visible_image(request, pk)
    if not queries.images_changeable_by(request.user).filter(pk=image.pk).exists():
        raise PermissionDenied(_("Only the image's author or staff may change it."))
    return image


def tags_context(request, image, *, error: str = "", can_change: bool | None = None) -> dict:
    if can_change is None:
        can_change = queries.can_change_image(request.user, image)
    return {
        "image": image,
        "tags": queries.tags_of_image(image),
        "can_tag": can_change,
        "tag_error": error,
        "tag_max": TAG_MAX_LENGTH,
    }


def _tags_response(request, image, *, error: str = "", status: int = 200):
    if not request.headers.get("HX-Request"):
        if error:
            messages.error(request, error)
        return redirect("gallery:image", pk=image.pk)
    context = tags_context(request, image, error=error, can_change=True)
    return render(request, "gallery/partials/image_tags.html", context, status=status)


def _names_from(request) -> list[str]:
    raw = request.POST.get("name", "")
    if len(raw) > 1000:
        raise ValidationError(_("That is too long for tags."))
    return [part for part in raw.split(",") if part.strip()] or [raw]


@login_required
@require_POST
def tag_add(request, pk: int):
    image = _changeable_image(request, pk)
    try:
        tag_service.add_tags(request.user, [image], _names_from(request))
    except ValidationError as exc:
        return _tags_response(request, image, error=" ".join(exc.messages), status=400)
    return _tags_response(request, image)


@login_required
@require_POST
def tag_remove(request, pk: int):
    image = _changeable_image(request, pk)
    try:
        tag_service.remove_tags(request.user, [image], [request.POST.get("name", "")])
    except ValidationError as exc:
        return _tags_response(request, image, error=" ".join(exc.messages), status=400)
    return _tags_response(request, image)


@require_safe
@login_required
def tag_suggest(request):
    """Up to ten tag names that start with what was typed, from the tags on images the member
    may see (so nobody learns the tags of another's private images)."""
    raw = request.GET.get("name", "")
    if len(raw) > TAG_MAX_LENGTH * 2:
        return HttpResponseBadRequest(_("That is longer than any tag."))
    names = []
    if raw.strip():
        try:
            prefix = normalise_tag(raw)
        except ValidationError as exc:
            return HttpResponseBadRequest(" ".join(exc.messages))
        names = queries.tag_suggestions(request.user, prefix)
    return render(request, "gallery/partials/tag_suggestions.html", {"names": names})


@require_safe
@login_required
def tag_page(request, name: str):
    try:
        normal = normalise_tag(name)
    except ValidationError:
        raise Http404(_("No such tag.")) from None
    if normal != name:
        query = request.META.get("QUERY_STRING", "")
        url = reverse("gallery:tag", args=[normal])
        return redirect(f"{url}?{query}" if query else url)
    if not queries.tag_visible_to(request.user, normal):
        raise Http404(_("No such tag."))
    return render_image_list(
        request,
        "gallery/tag_page.html",
        list_url=reverse("gallery:tag", args=[normal]),
        fixed=[("tag", normal)],
        extra={"tag_name": normal},
    )


# --- collections --------------------------------------------------------------------------------


def _collection_or_404(request, pk: int):
    collection = queries.collection_for_page(request.user, pk) if pk <= MAX_ID else None
    if collection is None:
        raise Http404(_("No such collection."))
    return collection


def _own_collection(request, pk: int):
    collection = _collection_or_404(request, pk)
    if collection.owner_id != request.user.pk:
        raise PermissionDenied(_("Only the collection's creator may change it."))
    return collection


def _collection_fields(post) -> dict:
    return {
        "name": post.get("name", ""),
        "description": post.get("description", ""),
        "visibility": post.get("visibility", "team"),
        "team_can_add": post.get("team_can_add") in ("on", "1", "true"),
    }


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def collection_list(request):
    errors: list[str] = []
    values = {"visibility": "team"}
    status = 200
    if request.method == "POST":
        values = _collection_fields(request.POST)
        try:
            collection = collection_service.create_collection(request.user, **values)
        except ValidationError as exc:
            errors, status = exc.messages, 400
        else:
            messages.success(request, _("Collection created."))
            return redirect(collection.get_absolute_url())
    context = {
        "collections": queries.collections_for_list(request.user),
        "errors": errors,
        "values": values,
        "nav": "collections",
    }
    return render(request, "gallery/collections.html", context, status=status)


@require_safe
@login_required
def collection_page(request, pk: int):
    collection = _collection_or_404(request, pk)
    return render_image_list(
        request,
        "gallery/collection_page.html",
        list_url=reverse("gallery:collection", args=[collection.pk]),
        fixed=[("collection", str(collection.pk))],
        defaults={"sort": "added"},
        extra={"collection": collection, "is_owner": collection.owner_id == request.user.pk},
        nav="collections",
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def collection_edit(request, pk: int):
    collection = _own_collection(request, pk)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        fields = _collection_fields(request.POST)
        try:
            collection_service.update_collection(request.user, collection, **fields)
            if request.POST.get("cover") == "newest":
                collection_service.set_cover(request.user, collection, None)
        except ValidationError as exc:
            errors, status = exc.messages, 400
            for field, value in fields.items():
                setattr(collection, field, value)
        else:
            messages.success(request, _("Collection saved."))
            return redirect(collection.get_absolute_url())
    context = {"collection": collection, "errors": errors, "nav": "collections"}
    return render(request, "gallery/collection_edit.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def collection_delete(request, pk: int):
    collection = _own_collection(request, pk)
    if request.method != "POST":
        context = {"collection": collection, "nav": "collections"}
        return render(request, "gallery/collection_delete.html", context)
    collection_service.delete_collection(request.user, collection)
    messages.success(request, _("The collection was deleted; its images are still in the gallery."))
    return redirect("gallery:collections")


def _int_param(raw: str | None) -> int | None:
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)


def collections_context(request, image, *, error: str = "") -> dict:
    return {
        "image": image,
        "collection_choices": queries.collection_choices_for_image(request.user, image),
        "collection_error": error,
    }


@login_required
@require_POST
def image_collections(request, pk: int):
    """Put the image in a collection, or take it out (`action` add or remove)."""
    image = _visible_image(request, pk)
    collection_id = _int_param(request.POST.get("collection"))
    action = request.POST.get("action")
    if collection_id is None or action not in ("add", "remove", "cover"):
        return HttpResponseBadRequest(_("Choose a collection and whether to add or remove."))
    collection = queries.collections_visible_to(request.user).filter(pk=collection_id).first()
    if collection is None:
        raise Http404(_("No such collection."))
    if action == "add":
        collection_service.add_images(request.user, collection, [image])
    elif action == "remove":
        collection_service.remove_images(request.user, collection, [image])
    else:
        try:
            collection_service.set_cover(request.user, collection, image)
        except ValidationError as exc:
            return HttpResponseBadRequest(" ".join(exc.messages))
    if request.headers.get("HX-Request"):
        context = collections_context(request, image)
        return render(request, "gallery/partials/image_collections.html", context)
    return redirect("gallery:image", pk=image.pk)


# --- saved searches -----------------------------------------------------------------------------


def _clean_saved_query(raw: str, user) -> str:
    """The query string of a valid gallery view, paging stripped; ValidationError otherwise."""
    from django.http import QueryDict

    if len(raw) > SavedSearch._meta.get_field("query").max_length:
        raise ValidationError(_("That search is too long to save."))
    data = QueryDict(raw.lstrip("?"), mutable=True)
    for paging in ("after", "before", "per_page"):  # a saved search starts at the top
        data.pop(paging, None)
    form = GalleryFilterForm(data, user=user)
    if not form.is_valid():
        raise ValidationError(_("That gallery view has a value we cannot use."))
    return urlencode(form.pairs())


@login_required
@require_POST
def saved_search_create(request):
    try:
        name = collection_service.clean_name(request.POST.get("name", ""))
        query = _clean_saved_query(request.POST.get("query", ""), request.user)
    except ValidationError as exc:
        return _saved_searches(request, errors=exc.messages, status=400)
    saved, created = SavedSearch.objects.update_or_create(
        owner=request.user, name=name, defaults={"query": query}
    )
    if created:
        messages.success(request, _("Search saved: it is in the menu under Saved."))
    else:
        messages.success(
            request, _("The saved search %(name)s now shows this view.") % {"name": name}
        )
    return redirect(saved_search_url(saved))


def saved_search_url(saved: SavedSearch) -> str:
    return reverse("gallery:home") + (f"?{saved.query}" if saved.query else "")


@require_safe
@login_required
def saved_search_list(request):
    return _saved_searches(request)


def _saved_searches(request, *, errors=(), status: int = 200):
    context = {
        "searches": list(queries.saved_searches_of(request.user)),
        "errors": errors,
        "nav": "saved",
    }
    return render(request, "gallery/saved_searches.html", context, status=status)


def _own_saved(request, pk: int) -> SavedSearch:
    saved = queries.saved_searches_of(request.user).filter(pk=pk).first() if pk <= MAX_ID else None
    if saved is None:
        raise Http404(_("No such saved search."))
    return saved


@login_required
@require_POST
def saved_search_rename(request, pk: int):
    saved = _own_saved(request, pk)
    try:
        saved.name = collection_service.clean_name(request.POST.get("name", ""))
        with transaction.atomic():
            saved.save(update_fields=["name"])
    except ValidationError as exc:
        return _saved_searches(request, errors=exc.messages, status=400)
    except IntegrityError:
        error = _("You already have a saved search called %(name)s.") % {"name": saved.name}
        return _saved_searches(request, errors=[error], status=400)
    messages.success(request, _("Saved search renamed."))
    return redirect("gallery:saved_searches")


@login_required
@require_POST
def saved_search_delete(request, pk: int):
    _own_saved(request, pk).delete()
    messages.success(request, _("Saved search deleted."))
    return redirect("gallery:saved_searches")
