"""Gallery pages for logged-in members: the grid, an image's page and what it offers."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from gallery import queries
from gallery.forms import DEFAULT_PER_PAGE, GalleryFilterForm, encode_cursor
from gallery.seedream.contract import model_label
from gallery.services import generation as generation_service
from gallery.services import images as image_service
from gallery.views.report import MemberReportForm


@require_safe
@login_required
def home(request):
    form = GalleryFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        context = {"form": form, "images": [], "nav": "gallery", "list_query": ""}
        return render(request, "gallery/home.html", context, status=400)
    filters = form.filters()
    data = form.cleaned_data
    per_page = data["per_page"]
    page = queries.gallery_page(
        request.user, filters, per_page=per_page, after=data["after"], before=data["before"]
    )
    list_query = _list_query(form)
    paging = {"per_page": per_page} if per_page != DEFAULT_PER_PAGE else {}
    context = {
        "form": form,
        "filters": filters,
        "images": page.images,
        "list_query": list_query,
        "older_url": _page_url(list_query, paging, "after", page.older),
        "newer_url": _page_url(list_query, paging, "before", page.newer),
        "chips": _active_chips(form),
        "flat_url": _toggle_url(form, "view", "flat"),
        "stacked_url": _toggle_url(form, "view", ""),
        "nav": "gallery",
    }
    if request.headers.get("HX-Request") and not request.headers.get("HX-Boosted"):
        context["partial"] = True  # the pager's Older link follows along out of band
        response = render(request, "gallery/partials/image_tiles.html", context)
    else:
        response = render(request, "gallery/home.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_safe
@login_required
def image_detail(request, pk: int):
    image = queries.image_for_page(request.user, pk)
    if image is None:
        if queries.hidden_image_of(request.user, pk):  # their own, hidden by staff: say so
            return render(request, "gallery/image_hidden.html", {"nav": "gallery"}, status=403)
        raise Http404(_("No such image."))
    form = GalleryFilterForm(request.GET, user=request.user)
    # A damaged list link still shows the image, stepping through the whole gallery.
    valid = form.is_valid()
    filters = form.filters() if valid else queries.GalleryFilters()
    previous, following = queries.neighbours(request.user, image, filters)
    list_query = _list_query(form) if valid else ""
    generation = image.generation
    context = {
        "image": image,
        "model_name": model_label(image.model),
        "generation": generation,
        "duration": _duration(generation),
        "siblings": queries.batch_siblings(request.user, image),
        "previous": previous,
        "following": following,
        "list_query": list_query,
        "gallery_url": reverse("gallery:home") + (f"?{list_query}" if list_query else ""),
        "can_delete": image_service.can_delete(request.user, image),
        "owns_batch": generation is not None and generation.user_id == request.user.pk,
        # Members report others' images; their own they can delete.
        "report_form": MemberReportForm() if image.owner_id != request.user.pk else None,
        "nav": "gallery",
    }
    return render(request, "gallery/image_detail.html", context)


@require_safe
@login_required
def lightbox(request, pk: int):
    image = _image_or_404(request, pk)
    context = {"image": image, "siblings": queries.batch_siblings(request.user, image)}
    return render(request, "gallery/partials/lightbox.html", context)


@require_safe
@login_required
def download(request, pk: int):
    image = _image_or_404(request, pk)
    return HttpResponseRedirect(image.download_url)


@login_required
@require_POST
def favourite(request, pk: int):
    image = _image_or_404(request, pk)
    image.is_favourite = image_service.toggle_favourite(user=request.user, image=image)
    if request.headers.get("HX-Request"):
        return render(request, "gallery/partials/favourite_button.html", {"image": image})
    return redirect("gallery:image", pk=pk)


@login_required
@require_POST
def vary(request, pk: int):
    image = _image_or_404(request, pk)
    try:
        rows = image_service.vary(user=request.user, image=image)
    except (generation_service.QuotaExceeded, generation_service.PromptBlocked) as exc:
        messages.error(request, exc.message)
        return redirect("gallery:image", pk=pk)
    return redirect("gallery:batch", batch=rows[0].batch)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def delete(request, pk: int):
    image = _image_or_404(request, pk)
    if not image_service.can_delete(request.user, image):
        return render(request, "gallery/delete_image.html", {"image": image}, status=403)
    if request.method != "POST":
        return render(request, "gallery/delete_image.html", {"image": image, "can_delete": True})
    image_service.delete_image(user=request.user, image=image)
    messages.success(request, _("The image was deleted."))
    return redirect("gallery:home")


def _image_or_404(request, pk: int):
    image = queries.image_for_page(request.user, pk)
    if image is None:
        raise Http404(_("No such image."))
    return image


def _duration(generation) -> float | None:
    if generation is None or generation.finished_at is None:
        return None
    return round((generation.finished_at - generation.created_at).total_seconds(), 1)


def _list_query(form: GalleryFilterForm) -> str:
    """The query string of the view's filters, without paging: what tiles and links carry."""
    pairs = [
        (name, form.data[name])
        for name in GalleryFilterForm.FILTER_NAMES
        if form.data.get(name) not in (None, "") and name in form.cleaned_data
    ]
    return urlencode(pairs)


def _page_url(list_query: str, paging: dict, direction: str, cursor) -> str:
    if cursor is None:
        return ""
    extra = urlencode({**paging, direction: encode_cursor(cursor)})
    return "?" + (f"{list_query}&{extra}" if list_query else extra)


def _toggle_url(form: GalleryFilterForm, name: str, value: str) -> str:
    pairs = [
        (key, form.data[key])
        for key in GalleryFilterForm.FILTER_NAMES
        if key != name and form.data.get(key) not in (None, "")
    ]
    if value:
        pairs.append((name, value))
    return "?" + urlencode(pairs)


def _active_chips(form: GalleryFilterForm) -> list[dict]:
    """What is active, each with a link that clears it alone."""
    chips = []
    for name in GalleryFilterForm.FILTER_NAMES:
        raw = form.data.get(name)
        if raw in (None, "") or name in ("sort", "view") and raw in ("newest", ""):
            continue
        field = form.fields[name]
        shown = raw
        choices = dict(getattr(field, "choices", []) or [])
        if name == "model":
            shown = model_label(raw)
        elif raw in choices:
            shown = choices[raw]
        elif name == "fav":
            shown = _("yes")
        chips.append(
            {"label": field.label, "value": shown, "clear_url": _toggle_url(form, name, "")}
        )
    return chips
