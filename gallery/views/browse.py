"""Gallery pages for logged-in members: the grid, an image's page and what it offers."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from gallery import queries
from gallery.forms import DEFAULT_PER_PAGE, GalleryFilterForm, encode_cursor
from gallery.models import Visibility
from gallery.seedream.contract import model_label
from gallery.services import generation as generation_service
from gallery.services import images as image_service
from gallery.views.report import MemberReportForm


@require_safe
@login_required
def home(request):
    return render_image_list(request, "gallery/home.html", list_url=reverse("gallery:home"))


def render_image_list(
    request,
    template: str,
    *,
    list_url: str,
    fixed: list[tuple[str, str]] = (),
    defaults: dict[str, str] | None = None,
    extra: dict | None = None,
    nav: str = "gallery",
):
    """The gallery's grid, search and filters, for the gallery and for the pages that fix a
    filter in their URL (a tag's, a collection's): `fixed` pairs are always applied, never
    shown as chips, and tiles carry them so the image page steps through the same list."""
    data = request.GET.copy()
    for name, value in fixed:
        if value not in data.getlist(name):
            data.appendlist(name, value)
    for name, value in (defaults or {}).items():
        data.setdefault(name, value)
    form = GalleryFilterForm(data, user=request.user)
    context = {
        "form": form,
        "list_url": list_url,
        "nav": nav,
        "images": [],
        "list_query": "",
        **(extra or {}),
    }
    if not form.is_valid():
        return render(request, template, context, status=400)
    filters = form.filters()
    data = form.cleaned_data
    per_page = data["per_page"]
    page = queries.gallery_page(
        request.user, filters, per_page=per_page, after=data["after"], before=data["before"]
    )
    implied = set(fixed) | set((defaults or {}).items())
    shown = [pair for pair in form.pairs() if pair not in implied]  # the member's own choices
    list_query = urlencode(form.pairs())
    own_query = urlencode(shown)
    paging = {"per_page": per_page} if per_page != DEFAULT_PER_PAGE else {}
    context.update(
        {
            "filters": filters,
            "images": page.images,
            "list_query": list_query,
            "older_url": _page_url(own_query, paging, "after", page.older),
            "newer_url": _page_url(own_query, paging, "before", page.newer),
            "chips": _active_chips(form, shown),
            "flat_url": _toggle_url(shown, "view", "flat"),
            "stacked_url": _toggle_url(shown, "view", ""),
            "search_hidden": [(n, v) for n, v in shown if n != "q"],
            "filter_hidden": [(n, v) for n, v in shown if n in ("q", "tag", "collection")],
            "save_search_query": urlencode(form.pairs()),
        }
    )
    if request.headers.get("HX-Request") and not request.headers.get("HX-Boosted"):
        context["partial"] = True  # the pager's Older link follows along out of band
        response = render(request, "gallery/partials/image_tiles.html", context)
    else:
        response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_safe
@login_required
def image_detail(request, pk: int):
    from gallery.views import organise  # it builds on this module's list view

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
        "visibility_choices": Visibility.choices,
        "owns_batch": generation is not None and generation.user_id == request.user.pk,
        # Members report others' images; their own they can delete.
        "report_form": MemberReportForm() if image.owner_id != request.user.pk else None,
        "nav": "gallery",
        **organise.tags_context(request, image),
        **organise.collections_context(request, image),
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


@login_required
@require_POST
def visibility(request, pk: int):
    """Who sees the image: its author or staff choose Private, Team or Public (403 for a
    teammate's image they can see, 404 for one they cannot)."""
    image = _image_or_404(request, pk)
    if not image_service.can_change(request.user, image):
        raise PermissionDenied(_("Only the image's author or staff may change who sees it."))
    value = request.POST.get("visibility", "")
    context = {"image": image, "visibility_choices": Visibility.choices}
    if value not in Visibility.values:
        context["visibility_error"] = _("Choose Private, Team or Public.")
        status = 400
    else:
        image_service.set_visibility(user=request.user, images=[image], visibility=value)
        image.visibility = value
        context["visibility_saved"] = True
        status = 200
    if request.headers.get("HX-Request"):
        return render(request, "gallery/partials/visibility_control.html", context, status=status)
    if status == 400:
        messages.error(request, context["visibility_error"])
    else:
        messages.success(request, _("Visibility saved."))
    return redirect("gallery:image", pk=pk)


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
    return urlencode(form.pairs())


def _page_url(list_query: str, paging: dict, direction: str, cursor) -> str:
    if cursor is None:
        return ""
    extra = urlencode({**paging, direction: encode_cursor(cursor)})
    return "?" + (f"{list_query}&{extra}" if list_query else extra)


def _toggle_url(pairs: list[tuple[str, str]], name: str, value: str) -> str:
    kept = [(key, v) for key, v in pairs if key != name]
    if value:
        kept.append((name, value))
    return "?" + urlencode(kept)


def _without(pairs: list[tuple[str, str]], pair: tuple[str, str]) -> str:
    return "?" + urlencode([p for p in pairs if p != pair])


def _active_chips(form: GalleryFilterForm, pairs: list[tuple[str, str]]) -> list[dict]:
    """What is active, each with a link that clears it alone (one chip per tag)."""
    chips = []
    for name, raw in pairs:
        if name in ("sort", "view") and raw in ("newest", ""):
            continue
        field = form.fields[name]
        shown = raw
        choices = dict(getattr(field, "choices", []) or [])
        if name == "model":
            shown = model_label(raw)
        elif name == "tag":
            from gallery.tags import normalise_tag

            shown = normalise_tag(raw)
        elif name == "collection":
            shown = form.collection_object.name
        elif raw in choices:
            shown = choices[raw]
        elif name == "fav":
            shown = _("yes")
        chips.append(
            {"label": field.label, "value": shown, "clear_url": _without(pairs, (name, raw))}
        )
    return chips
