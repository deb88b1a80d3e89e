"""Share links: the member's side (make, list, edit, revoke) and the public side (/s/<token>/
and /explore/). One function, sharing.resolve, decides whether a token may see anything;
every public path goes through it, and every failure answers the same neutral 404."""

from __future__ import annotations

import segno
from botocore.exceptions import ClientError
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from gallery import queries
from gallery.login_throttle import client_ip
from gallery.models import Collection, Image, MemberProfile
from gallery.public_limits import over_limit, too_many_requests
from gallery.services import moderation, sharing
from gallery.share_forms import (
    ExploreChoiceForm,
    LinkPasswordForm,
    PublicReportForm,
    ShareLinkEditForm,
    ShareLinkForm,
)
from gallery.storage import presigned_url

PUBLIC_PAGE_SIZE = 30


def _htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


# --- The member's side --------------------------------------------------------


def _share_target(request) -> tuple[Image | None, Collection | None]:
    """The image or collection named by ?image= or ?collection=, if the member may see it."""
    image_id = request.GET.get("image", "")
    collection_id = request.GET.get("collection", "")
    if bool(image_id) == bool(collection_id):
        raise Http404
    if image_id:
        if not image_id.isdigit():
            raise Http404
        image = queries.images_visible_to(request.user).filter(pk=image_id).first()
        if image is None:
            raise Http404
        return image, None
    if not collection_id.isdigit():
        raise Http404
    collection = queries.collections_visible_to(request.user).filter(pk=collection_id).first()
    if collection is None:
        raise Http404
    return None, collection


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def share_new(request):
    image, collection = _share_target(request)
    form = ShareLinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            link, token = sharing.create_link(
                user=request.user,
                choices=form.choices(),
                password=form.cleaned_data["password"],
                image=image,
                collection=collection,
            )
        except sharing.SharingError as exc:
            form.add_error(None, exc.message)
        else:
            url = request.build_absolute_uri(reverse("gallery:share_page", args=[token]))
            qr = segno.make(url, error="m").svg_inline(scale=4, dark="#111", light="#fff")
            context = {"link": link, "url": url, "qr": qr, "image": image, "collection": collection}
            response = render(request, "gallery/share/created.html", context)
            patch_cache_control(response, private=True, no_store=True)
            return response
    context = {"form": form, "image": image, "collection": collection, "nav": "links"}
    status = 400 if request.method == "POST" else 200
    return render(request, "gallery/share/new.html", context, status=status)


@require_safe
@login_required
def my_links(request):
    links = queries.share_links_page(request.user)
    pending = sharing.pending_views(links)
    for link in links:
        link.views_total = link.view_count + pending.get(link.pk, 0)
    context = {"links": links, "nav": "links", "undo_seconds": settings.SHARE_UNDO_SECONDS}
    return render(request, "gallery/share/links.html", context)


def _editable_link(request, pk: int):
    return get_object_or_404(queries.share_links_editable_by(request.user), pk=pk)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def link_edit(request, pk: int):
    link = _editable_link(request, pk)
    form = ShareLinkEditForm(request.POST or None, link=link)
    if request.method == "POST" and form.is_valid():
        try:
            sharing.edit_link(
                user=request.user,
                link=link,
                choices=form.choices(),
                new_password=form.cleaned_data["password"],
                remove_password=form.cleaned_data["remove_password"],
            )
        except sharing.SharingError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("The link is changed."))
            return redirect("gallery:share_links")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "link": link, "nav": "links"}
    return render(request, "gallery/share/edit.html", context, status=status)


def _link_row(request, link, *, revoked_now: bool = False):
    link.views_total = link.view_count + sharing.pending_views([link]).get(link.pk, 0)
    link.thumb = queries.shared_cover(link) if not link.image_id else link.image
    context = {
        "link": link,
        "revoked_now": revoked_now,
        "undo_seconds": settings.SHARE_UNDO_SECONDS,
    }
    return render(request, "gallery/share/link_row.html", context)


@login_required
@require_POST
def link_revoke(request, pk: int):
    link = sharing.revoke_link(user=request.user, link=_editable_link(request, pk))
    if _htmx(request):
        return _link_row(request, link, revoked_now=True)
    messages.success(request, _("The link is revoked: it stopped working at once."))
    return redirect("gallery:share_links")


@login_required
@require_POST
def link_undo(request, pk: int):
    link = _editable_link(request, pk)
    try:
        link = sharing.undo_revoke(user=request.user, link=link)
    except sharing.SharingError as exc:
        if _htmx(request):
            return _link_row(request, link)
        messages.error(request, exc.message)
        return redirect("gallery:share_links")
    if _htmx(request):
        return _link_row(request, link)
    messages.success(request, _("The link works again."))
    return redirect("gallery:share_links")


@login_required
@require_POST
def explore_choice(request):
    form = ExploreChoiceForm(request.POST)
    if form.is_valid():
        MemberProfile.objects.update_or_create(
            user=request.user, defaults={"show_on_explore": form.cleaned_data["show_on_explore"]}
        )
        messages.success(request, _("Your Explore choice is saved."))
    return redirect("gallery:profile")


# --- The public side ------------------------------------------------------------


def _public(response: HttpResponse) -> HttpResponse:
    """Headers of every public page: no Referer to other sites (the URL holds the token), not
    kept by any cache (a revoke must show at once), not indexed."""
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    patch_cache_control(response, private=True, no_store=True)
    return response


def _missing(request) -> HttpResponse:
    """The one answer for a link that does not work, whatever the reason."""
    return _public(render(request, "gallery/share/missing.html", status=404))


def _url(key: str, *, download_name: str | None = None) -> str:
    return presigned_url(key, expires=settings.SHARE_URL_LIFETIME, download_name=download_name)


def _with_urls(images: list[Image]) -> list[Image]:
    for image in images:
        image.public_thumb = _url(image.thumbnail_key)
        image.public_original = _url(image.original_key)
    return images


def _live_link(request, token: str):
    """The link, when it works and this browser has given its password; else None."""
    link = sharing.resolve(token)
    if link is None or not sharing.is_unlocked(request.session, link):
        return None
    return link


# The public forms (password, report) are anonymous and their pages send no Referer, so a
# browser sends `Origin: null` with them and Django's CSRF check would refuse every one. There
# is no session to ride: the worst a forged post does is file a (rate-limited) report or
# unlock a link for the victim, so they are exempt instead of weakening the Referrer-Policy.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def share_page(request, token: str):
    if over_limit(request, "view", settings.SHARE_VIEW_RATE):
        return _public(too_many_requests(request))
    if request.method == "POST":
        return _password_attempt(request, token)
    link = sharing.resolve(token)
    if link is None:
        return _missing(request)
    if not sharing.is_unlocked(request.session, link):
        return _public(render(request, "gallery/share/password.html", {"form": LinkPasswordForm()}))
    after = None
    if "after" in request.GET:
        after = queries.PublicCursor.parse(request.GET["after"])
        if after is None or link.collection_id is None:
            return _missing(request)
    if after is None and request.method == "GET" and request.user != link.owner:
        sharing.count_view(
            link, client=client_ip(request) or "", user_agent=request.headers.get("User-Agent", "")
        )
    context = {"link": link, "token": token, "report_form": PublicReportForm()}
    if link.image_id:
        image = queries.shared_images(link).first()
        if image is None:  # hidden or deleted since the link was resolved
            return _missing(request)
        context |= {"image": _with_urls([image])[0], **_card(request, link, token, image)}
        return _public(render(request, "gallery/share/image_page.html", context))
    page = queries.shared_collection_page(link, per_page=PUBLIC_PAGE_SIZE, after=after)
    context |= {"images": _with_urls(page.images), "next_cursor": page.next_cursor}
    if after is not None:
        return _public(render(request, "gallery/share/tiles.html", context))
    context |= _card(request, link, token, queries.shared_cover(link))
    return _public(render(request, "gallery/share/collection_page.html", context))


def _card(request, link, token: str, cover: Image | None) -> dict:
    """Open Graph and Twitter card values: the title from the label, else the prompt (when
    shown) or the collection's name; the picture from the checked preview view."""
    if link.label:
        title = link.label
    elif link.collection_id:
        title = link.collection.name
    elif link.show_prompt and cover is not None:
        title = Truncator(cover.prompt).chars(90)
    else:
        title = _("A shared image")
    description = ""
    if link.collection_id:
        count = queries.shared_images(link).count()
        description = ngettext("%(n)d image", "%(n)d images", count) % {"n": count}
    elif link.show_prompt and cover is not None and link.label:
        description = Truncator(cover.prompt).chars(200)
    preview = reverse("gallery:share_preview", args=[token])
    return {
        "og_title": title,
        "og_description": description,
        "cover": cover,
        "preview_url": request.build_absolute_uri(preview),
    }


def _password_attempt(request, token: str) -> HttpResponse:
    # Counted before the token is looked at, so an unknown link is limited alike.
    if over_limit(request, "password", settings.SHARE_PASSWORD_RATE):
        return _public(too_many_requests(request))
    link = sharing.resolve(token)
    form = LinkPasswordForm(request.POST)
    password = form.data.get("password", "")
    if not isinstance(password, str) or len(password) > 128:
        password = ""
    opened = sharing.check_link_password(link if link and link.password_hash else None, password)
    if link is None:
        return _missing(request)
    if not link.password_hash:
        return _public(HttpResponseRedirect(request.path))
    if opened:
        if not request.user.is_authenticated:
            request.session.set_expiry(0)  # this browser session only
        sharing.unlock(request.session, link)
        return _public(HttpResponseRedirect(request.path))
    form.is_valid()
    form.add_error("password", _("That is not the password."))
    return _public(render(request, "gallery/share/password.html", {"form": form}, status=400))


@require_safe
def share_lightbox(request, token: str, ref: str):
    if over_limit(request, "view", settings.SHARE_VIEW_RATE):
        return _public(too_many_requests(request))
    link = _live_link(request, token)
    image = queries.shared_image(link, ref) if link else None
    if image is None:
        return _missing(request)
    context = {"link": link, "token": token, "image": _with_urls([image])[0]}
    context["report_form"] = PublicReportForm(initial={"image": image.sha256})
    return _public(render(request, "gallery/share/lightbox.html", context))


@require_safe
def share_download(request, token: str, ref: str):
    if over_limit(request, "view", settings.SHARE_VIEW_RATE):
        return _public(too_many_requests(request))
    link = _live_link(request, token)
    image = queries.shared_image(link, ref) if link and link.allow_download else None
    if image is None:
        return _missing(request)
    return _public(
        HttpResponseRedirect(_url(image.original_key, download_name=image.download_name))
    )


@require_safe
def share_preview(request, token: str):
    """The unfurl picture: checked on every request, so it works as long as the link does,
    and never for a link behind a password."""
    if over_limit(request, "view", settings.SHARE_VIEW_RATE):
        return _public(too_many_requests(request))
    link = sharing.resolve(token)
    cover = queries.shared_cover(link) if link and not link.password_hash else None
    if cover is None:
        return _missing(request)
    try:
        picture = sharing.preview_jpeg(cover)
    except ClientError:  # the object is gone (an image being deleted): nothing to show
        return _missing(request)
    response = HttpResponse(picture, content_type="image/jpeg")
    response["Referrer-Policy"] = "no-referrer"
    patch_cache_control(response, private=True, max_age=300)
    return response


@csrf_exempt
@require_POST
def share_report(request, token: str):
    if over_limit(request, "report", settings.SHARE_REPORT_RATE):
        return _public(too_many_requests(request))
    link = _live_link(request, token)
    if link is None:
        return _missing(request)
    return _report(
        request, PublicReportForm(request.POST), lambda ref: queries.shared_image(link, ref), link
    )


def _report(request, form, find, link=None) -> HttpResponse:
    if not form.is_valid():
        return _public(
            render(request, "gallery/share/report_result.html", {"form": form}, status=400)
        )
    image = find(form.cleaned_data["image"])
    if image is None:  # not on this page: nothing to report here
        form.add_error(None, _("That image is not on this page."))
        return _public(
            render(request, "gallery/share/report_result.html", {"form": form}, status=400)
        )
    moderation.file_report(
        image, form.cleaned_data["reason"], form.cleaned_data["details"], share_link=link
    )
    return _public(render(request, "gallery/share/report_result.html", {"reported": True}))


def _explore_enabled() -> None:
    if not settings.GALLERY_EXPLORE_ENABLED:
        raise Http404


@require_safe
def explore(request):
    _explore_enabled()
    if over_limit(request, "view", settings.SHARE_VIEW_RATE):
        return _public(too_many_requests(request))
    after = None
    if "after" in request.GET:
        after = queries.PublicCursor.parse(request.GET["after"])
        if after is None:
            raise Http404
    page = queries.explore_page(per_page=PUBLIC_PAGE_SIZE, after=after)
    context = {"images": _with_urls(page.images), "next_cursor": page.next_cursor, "explore": True}
    template = "gallery/share/tiles.html" if after else "gallery/share/explore.html"
    return _public(render(request, template, context))


@require_safe
def explore_lightbox(request, ref: str):
    _explore_enabled()
    if over_limit(request, "view", settings.SHARE_VIEW_RATE):
        return _public(too_many_requests(request))
    image = queries.explore_image(ref)
    if image is None:
        raise Http404
    context = {"image": _with_urls([image])[0], "explore": True}
    context["report_form"] = PublicReportForm(initial={"image": image.sha256})
    return _public(render(request, "gallery/share/lightbox.html", context))


@csrf_exempt
@require_POST
def explore_report(request):
    _explore_enabled()
    if over_limit(request, "report", settings.SHARE_REPORT_RATE):
        return _public(too_many_requests(request))
    return _report(request, PublicReportForm(request.POST), queries.explore_image)
