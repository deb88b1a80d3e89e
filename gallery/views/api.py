"""The JSON API under /api/ (django-ninja): images and jobs, for scripts and the browser.

Authentication: a personal API token (`Authorization: Bearer ...`) or the browser's session
with its CSRF token. Endpoints are thin: they call the same selectors (gallery/queries.py)
and services as the pages. Errors have one shape: `{"error": {"code", "message", "field"}}`.
OpenAPI 3 at /api/schema, interactive docs at /api/docs (Swagger UI from static files).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404, HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from ninja import Field, NinjaAPI, Query, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer, SessionAuth

from gallery import queries
from gallery.forms import GalleryFilterForm, decode_cursor, encode_cursor
from gallery.models import Generation, Visibility
from gallery.seedream import contract
from gallery.services import api_tokens, sharing
from gallery.services import collections as collection_service
from gallery.services import generation as generation_service
from gallery.services import images as image_service
from gallery.services import tags as tag_service
from gallery.share_forms import LONGEST_EXPIRY_DAYS, ShareLinkForm
from gallery.tags import normalise_tag

MAX_BODY_BYTES = 64 * 1024
PAGE_MAX = 100
MAX_ID = 2**63 - 1  # larger ids cannot exist; refused before the database sees them
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class ApiError(Exception):
    """An error answer in the API's own shape."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


class JsonBodyParser(Parser):
    """JSON objects only, at most 64 KB."""

    def parse_body(self, request: HttpRequest):
        declared = request.META.get("CONTENT_LENGTH") or "0"
        too_big = ApiError(413, "body_too_large", "The request body is larger than 64 KB.", "body")
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            raise too_big
        if len(request.body) > MAX_BODY_BYTES:
            raise too_big
        if (request.content_type or "").lower() != "application/json":
            raise ApiError(
                415,
                "unsupported_media_type",
                "Content-Type must be application/json.",
                "Content-Type",
            )
        data = super().parse_body(request)
        if not isinstance(data, dict):  # an all-optional PATCH would take `[]` as "no change"
            raise ApiError(400, "invalid_parameter", "body: must be a JSON object.", "body")
        return data


class TokenAuth(HttpBearer):
    """A member's personal API token, counted against its per-minute limit."""

    def authenticate(self, request: HttpRequest, token: str):
        api_token = api_tokens.authenticate(token)
        if api_token is None:
            return None
        try:
            api_tokens.check_rate(api_token)
        except api_tokens.RateLimited as exc:
            raise ApiError(429, exc.code, exc.message) from None
        request.user = api_token.user
        return api_token.user


api = NinjaAPI(
    title="Seedgallery API",
    version="1",
    description=(
        "The gallery's JSON API. Authenticate with a personal API token "
        "(`Authorization: Bearer sg_...`, made on the API tokens page) or a browser session "
        'with its CSRF token. Errors: `{"error": {"code", "message", "field"}}`. '
        "Lists are newest first (images: unless `sort=oldest`), `limit` items a page; pass "
        "`next_cursor` as `cursor` for the next page, with the same filters."
    ),
    auth=[TokenAuth(), SessionAuth()],
    parser=JsonBodyParser(),
    urls_namespace="api",
    openapi_url="/schema",
    docs_url="/docs",
)


def _error(request, status: int, code: str, message: str, field: str | None = None):
    body = {"error": {"code": code, "message": message, "field": field}}
    return api.create_response(request, body, status=status)


@api.exception_handler(ApiError)
def _api_error(request, exc: ApiError):
    return _error(request, exc.status, exc.code, exc.message, exc.field)


@api.exception_handler(RequestDataTooBig)
def _too_big(request, exc):  # a chunked body past Django's own limit, before any parsing
    return _error(request, 413, "body_too_large", "The request body is larger than 64 KB.", "body")


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return _error(
        request,
        401,
        "not_authenticated",
        "Send `Authorization: Bearer <your personal API token>`, or log in.",
    )


@api.exception_handler(ValidationError)
def _invalid(request, exc: ValidationError):
    first = exc.errors[0] if exc.errors else {}
    # A list item's index is no parameter's name: `tags`, not `0`.
    location = [str(part) for part in first.get("loc", ()) if not isinstance(part, int)]
    field = location[-1] if len(location) > 1 else "body"
    message = first.get("msg", "Invalid input.")
    return _error(request, 400, "invalid_parameter", f"{field}: {message}", field)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return _error(request, 404, "not_found", "No such object, or not yours to see.")


def unmatched(request, *args, **kwargs):
    """Any other path under /api/ (a typo, or a tag name with a line break, which no route's
    pattern takes) is the API's own JSON 404, not the site's HTML page."""
    body = {"error": {"code": "not_found", "message": "No such endpoint or object.", "field": None}}
    return JsonResponse(body, status=404)


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    cause = exc.__cause__
    if isinstance(cause, ApiError):  # the body parser's refusals arrive wrapped
        return _api_error(request, cause)
    if isinstance(cause, ValueError):
        return _error(request, 400, "invalid_json", "The request body is not valid JSON.", "body")
    code = "csrf_failed" if exc.status_code == 403 else "error"
    return _error(request, exc.status_code, code, exc.message)


# --- Schemas ---------------------------------------------------------------------


class ErrorDetail(Schema):
    code: str
    message: str
    field: str | None


class ErrorOut(Schema):
    error: ErrorDetail


class ImageOut(Schema):
    id: int
    prompt: str
    model: str
    size: str
    width: int
    height: int
    seed: int
    guidance_scale: float
    watermark: bool
    visibility: str = Field(..., description="`private`, `team` or `public`")
    created_at: datetime
    owner: str = Field(..., alias="owner.username")
    content_type: str
    byte_size: int
    sha256: str
    generation_id: int | None
    thumbnail_url: str
    url: str = Field(
        ..., alias="original_url", description="presigned; lives AWS_QUERYSTRING_EXPIRE s"
    )
    is_favourite: bool = Field(False, description="one of your favourites")
    stack_count: int | None = Field(
        None, description="with view=stacked: how many images of its batch the view lists"
    )
    tags: list[str] = Field(default_factory=list, description="its tags, by name")

    @staticmethod
    def resolve_tags(obj) -> list[str]:
        return sorted(getattr(obj, "tag_names", ()))


class ImagePage(Schema):
    items: list[ImageOut]
    next_cursor: str | None


class FavouriteOut(Schema):
    image_id: int
    is_favourite: bool


class JobOut(Schema):
    id: int
    batch: str
    status: str
    prompt: str
    model: str
    size: str
    seed: int
    seed_was_random: bool
    guidance_scale: float
    watermark: bool
    visibility: str = Field(..., description="what its image gets: `private`, `team`, `public`")
    created_at: datetime
    finished_at: datetime | None
    error_code: str
    error_message: str
    image_id: int | None = Field(None, alias="image.pk")
    can_cancel: bool
    can_retry: bool

    @staticmethod
    def resolve_batch(obj) -> str:
        return str(obj.batch)

    @staticmethod
    def resolve_image_id(obj) -> int | None:
        image = getattr(obj, "image", None) if obj.status == Generation.Status.SUCCEEDED else None
        return image.pk if image else None


class JobPage(Schema):
    items: list[JobOut]
    next_cursor: str | None


class JobsIn(Schema):
    prompt: str = Field(..., description="Chinese or English, 1 to 2000 characters")
    model: str | None = Field(None, description="one of the models GET /v1/models lists")
    size: str | None = Field(None, description="WIDTHxHEIGHT; each side 512-2048, at most 3:1")
    seed: int | None = Field(None, description="-1 or absent: random")
    guidance_scale: float | None = Field(None, description="1 to 10")
    watermark: bool | None = None
    variations: int = Field(1, description="images to make, each with its own seed")
    visibility: str | None = Field(
        None,
        description="who sees the images: `private` (you and staff), `team` or `public`; "
        "absent: the gallery's default",
    )


class JobsOut(Schema):
    jobs: list[JobOut]


ERRORS = {400: ErrorOut, 401: ErrorOut, 413: ErrorOut, 415: ErrorOut, 429: ErrorOut}


# --- Cursor pagination: newest first, keyed on (created_at, id) ------------------------


def _after(cursor: str) -> Q:
    position = decode_cursor(cursor)
    if position is None:
        raise ApiError(400, "invalid_parameter", "cursor is not one this API gave.", "cursor")
    return Q(created_at__lt=position.created_at) | Q(
        created_at=position.created_at, pk__lt=position.id
    )


def _page(rows: QuerySet, cursor: str | None, limit: int) -> dict:
    if cursor:
        rows = rows.filter(_after(cursor))
    items = list(rows.order_by("-created_at", "-pk")[: limit + 1])
    more = len(items) > limit
    items = items[:limit]
    next_cursor = encode_cursor(queries.Cursor.of(items[-1], tie="pk")) if more else None
    return {"items": items, "next_cursor": next_cursor}


class PageQuery(Schema):
    cursor: str | None = Field(None, max_length=200, description="next_cursor of the last page")
    limit: int = Field(30, ge=1, le=PAGE_MAX)


class ImageQuery(PageQuery):
    """The grid's filters, checked by the grid's own form (gallery.forms.GalleryFilterForm)."""

    q: str | None = Field(None, description="words of the prompt; a search lists flat")
    who: str | None = Field(None, description="`mine`: only your images")
    member: str | None = Field(None, description="only this member's images (username)")
    model: str | None = Field(None, description="only images made with this model")
    orientation: str | None = Field(None, description="`landscape`, `portrait` or `square`")
    size: str | None = Field(None, description="only this WIDTHxHEIGHT")
    date_from: str | None = Field(None, description="made on or after this day, YYYY-MM-DD (UTC)")
    date_to: str | None = Field(None, description="made on or before this day, YYYY-MM-DD (UTC)")
    fav: bool | None = Field(None, description="true: only your favourites")
    watermark: str | None = Field(None, description="`on` or `off`")
    sort: str | None = Field(None, description="`newest` (default) or `oldest`")
    view: str | None = Field(
        None, description="`flat` (default): every image; `stacked`: a batch as one item"
    )
    tag: list[str] | None = Field(
        None, description="repeat for several: only images carrying every one of these tags"
    )
    collection: Id | None = Field(
        None, description="only this collection's images (`sort=added`: newest added first)"
    )


# The form's names for what the API calls `cursor` and `limit`.
_API_NAME = {"after": "cursor", "per_page": "limit", "__all__": None}


def _filter_form(request, query: ImageQuery) -> GalleryFilterForm:
    data = {name: value for name in GalleryFilterForm.FILTER_NAMES
            if (value := getattr(query, name, None)) is not None}  # fmt: skip
    data["fav"] = "on" if query.fav else ""
    # The API lists every image unless asked to stack; the grid's form spells stacked "".
    view = data.get("view", "flat")
    data["view"] = "" if view == "stacked" else view
    data.update(after=query.cursor or "", per_page=query.limit)
    form = GalleryFilterForm(data, user=request.user)
    if not form.is_valid():
        name, errors = next(iter(form.errors.items()))
        field = _API_NAME.get(name, name)
        raise ApiError(400, "invalid_parameter", f"{field or 'query'}: {errors[0]}", field)
    return form


# --- Images -----------------------------------------------------------------------


@api.get("/images", response={200: ImagePage, **ERRORS}, tags=["images"])
def list_images(request, query: Query[ImageQuery]):
    """The team gallery with the grid's filters, sort and keyset paging.

    Unlike the grid, the list is flat by default (every image, so a script sees them all);
    `view=stacked` lists each batch once, as the grid does, with its `stack_count`. A search
    (`q`) always lists flat, as in the grid."""
    form = _filter_form(request, query)
    page = queries.gallery_page(
        request.user,
        form.filters(),
        per_page=form.cleaned_data["per_page"],
        after=form.cleaned_data["after"],
        with_favourite=True,
    )
    next_cursor = encode_cursor(page.older) if page.older else None
    return {"items": _with_tags(page.images), "next_cursor": next_cursor}


def _with_tags(images: list) -> list:
    names = queries.tag_names_of(images) if images else {}
    for image in images:
        image.tag_names = names.get(image.pk, [])
    return images


def _visible_image(request, image_id: int):
    """The image if the member may see it, else 404 (an impossible id too, before any query)."""
    image = queries.image_for_page(request.user, image_id) if 1 <= image_id <= MAX_ID else None
    if image is None:
        raise Http404
    return image


def _changeable_image(request, image_id: int):
    """404 unless the member may see the image, 403 unless they may change it."""
    image = _visible_image(request, image_id)
    if not queries.images_changeable_by(request.user).filter(pk=image.pk).exists():
        raise ApiError(403, "forbidden", "Only the image's author or staff may change it.")
    return image


@api.get("/images/{image_id}", response={200: ImageOut, 404: ErrorOut, **ERRORS}, tags=["images"])
def image_detail(request, image_id: int):
    """One image with every parameter that made it."""
    return _with_tags([_visible_image(request, image_id)])[0]


class ImagePatchIn(Schema):
    visibility: str = Field(..., description="`private` (you and staff), `team` or `public`")


@api.patch(
    "/images/{image_id}", response={200: ImageOut, 403: ErrorOut, 404: ErrorOut, **ERRORS},
    tags=["images"],
)  # fmt: skip
def change_image(request, image_id: int, payload: ImagePatchIn):
    """Who sees the image: its author or staff (403 for a teammate's image you can see)."""
    image = _changeable_image(request, image_id)
    try:
        image_service.set_visibility(
            user=request.user, images=[image], visibility=payload.visibility
        )
    except ValueError:
        raise ApiError(
            400, "invalid_parameter", "visibility must be one of private, team, public.",
            "visibility",
        ) from None  # fmt: skip
    except PermissionDenied as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    return _visible_image_with_tags(request, image.pk)


def _visible_image_with_tags(request, image_id: int):
    return _with_tags([_visible_image(request, image_id)])[0]


def _set_favourite(request, image_id: int, favourite: bool) -> dict:
    image = get_object_or_404(queries.images_visible_to(request.user), pk=image_id)
    image_service.set_favourite(user=request.user, image=image, favourite=favourite)
    return {"image_id": image.pk, "is_favourite": favourite}


@api.post(
    "/images/{image_id}/favourite", response={200: FavouriteOut, 404: ErrorOut, **ERRORS},
    tags=["images"],
)  # fmt: skip
def favourite_image(request, image_id: int):
    """Make the image one of your favourites (again is fine: nothing changes)."""
    return _set_favourite(request, image_id, True)


@api.delete(
    "/images/{image_id}/favourite", response={200: FavouriteOut, 404: ErrorOut, **ERRORS},
    tags=["images"],
)  # fmt: skip
def unfavourite_image(request, image_id: int):
    """Take the image out of your favourites (already out is fine: nothing changes)."""
    return _set_favourite(request, image_id, False)


# --- Jobs -------------------------------------------------------------------------


@api.get("/jobs", response={200: JobPage, **ERRORS}, tags=["jobs"])
def list_jobs(request, page: Query[PageQuery]):
    """Your generation jobs, newest first."""
    return _page(queries.generations_of(request.user), page.cursor, page.limit)


@api.get("/jobs/{job_id}", response={200: JobOut, 404: ErrorOut, **ERRORS}, tags=["jobs"])
def job_detail(request, job_id: int):
    return get_object_or_404(queries.generations_of(request.user), pk=job_id)


@api.post("/jobs", response={201: JobsOut, 404: ErrorOut, **ERRORS}, tags=["jobs"])
def submit_jobs(request, payload: JobsIn):
    """Queue `variations` images, with the same rules and daily quota as the generate form."""
    body = payload.dict()
    variations = body.pop("variations")
    visibility = body.pop("visibility")
    if visibility is not None and visibility not in Visibility.values:
        raise ApiError(
            400,
            "invalid_parameter",
            "visibility must be one of private, team, public.",
            "visibility",
        )
    if body["model"] is None:
        body["model"] = settings.SEEDREAM_MODEL
    maximum = settings.GENERATION_MAX_VARIATIONS
    if not 1 <= variations <= maximum:
        raise ApiError(
            400, "invalid_parameter", f"variations must be between 1 and {maximum}.", "variations"
        )
    try:
        params = contract.params_from_body(
            body, allowed_models=settings.SEEDREAM_ALLOWED_MODELS, product=True
        )
        rows = generation_service.submit(
            user=request.user,
            params=params,
            variations=variations,
            visibility=visibility,
            source="api",
        )
    except contract.ParameterError as exc:
        raise ApiError(400, "invalid_parameter", exc.message, exc.param) from None
    except generation_service.QuotaExceeded as exc:
        raise ApiError(429, exc.code, exc.message) from None
    except generation_service.PromptBlocked as exc:
        raise ApiError(400, exc.code, exc.message, "prompt") from None
    return Status(201, {"jobs": rows})


@api.post(
    "/jobs/{job_id}/cancel", response={200: JobOut, 404: ErrorOut, 409: ErrorOut, **ERRORS},
    tags=["jobs"],
)  # fmt: skip
def cancel_job(request, job_id: int):
    """Cancel a job that has not started."""
    job = get_object_or_404(queries.generations_of(request.user), pk=job_id)
    if not generation_service.cancel(user=request.user, generation_id=job.pk):
        raise ApiError(409, "not_cancelable", "The job has already started.")
    job.refresh_from_db()
    return job


@api.post(
    "/jobs/{job_id}/retry", response={200: JobOut, 404: ErrorOut, 409: ErrorOut, **ERRORS},
    tags=["jobs"],
)  # fmt: skip
def retry_job(request, job_id: int):
    """Run a failed job again (409 when a retry cannot help, 429 when today's quota is used)."""
    job = get_object_or_404(queries.generations_of(request.user), pk=job_id)
    try:
        return generation_service.retry(user=request.user, generation_id=job.pk, source="api")
    except generation_service.PromptBlocked as exc:
        raise ApiError(400, exc.code, exc.message, "prompt") from None
    except generation_service.NotRetryable as exc:
        raise ApiError(409, "not_retryable", exc.message) from None
    except generation_service.QuotaExceeded as exc:
        raise ApiError(429, exc.code, exc.message) from None


# --- Tags -------------------------------------------------------------------------

TAG_PREFIX_MAX = 200  # longer than any tag (the tag page's own bound is twice a tag's length)


class TagsIn(Schema):
    tags: list[Annotated[str, Field(max_length=TAG_PREFIX_MAX)]] = Field(
        ..., max_length=tag_service.MAX_TAGS_PER_CALL * 5,
        description=f"names to add; at most {tag_service.MAX_TAGS_PER_CALL} once normalised",
    )  # fmt: skip


class ImageTagsOut(Schema):
    image_id: int
    tags: list[str]


class TagNamesOut(Schema):
    tags: list[str]


def _tag_error(exc: DjangoValidationError, field: str) -> ApiError:
    return ApiError(400, "invalid_parameter", f"{field}: {' '.join(exc.messages)}", field)


def _image_tags(image) -> dict:
    return {"image_id": image.pk, "tags": sorted(queries.tag_names_of([image]).get(image.pk, []))}


@api.post(
    "/images/{image_id}/tags", response={200: ImageTagsOut, 403: ErrorOut, 404: ErrorOut,
                                         **ERRORS}, tags=["tags"],
)  # fmt: skip
def add_image_tags(request, image_id: int, payload: TagsIn):
    """Tag the image (its author or staff); answers all its tags. Names are normalised as on
    the image page; one that cannot be a tag refuses the whole call."""
    image = _changeable_image(request, image_id)
    try:
        tag_service.add_tags(request.user, [image], payload.tags)
    except DjangoValidationError as exc:
        raise _tag_error(exc, "tags") from None
    except PermissionDenied as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    return _image_tags(image)


@api.delete(
    "/images/{image_id}/tags/{path:name}", response={200: ImageTagsOut, 403: ErrorOut, 404: ErrorOut,
                                                **ERRORS}, tags=["tags"],
)  # fmt: skip
def remove_image_tag(request, image_id: int, name: str):
    """Take one tag off the image (not on it is fine: nothing changes); answers its tags."""
    image = _changeable_image(request, image_id)
    if len(name) > TAG_PREFIX_MAX:
        raise ApiError(400, "invalid_parameter", "name: longer than any tag.", "name")
    try:
        tag_service.remove_tags(request.user, [image], [name])
    except DjangoValidationError as exc:
        raise _tag_error(exc, "name") from None
    except PermissionDenied as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    return _image_tags(image)


class TagQuery(Schema):
    prefix: str = Field("", max_length=TAG_PREFIX_MAX, description="what was typed")


@api.get("/tags", response={200: TagNamesOut, **ERRORS}, tags=["tags"])
def suggest_tags(request, query: Query[TagQuery]):
    """Up to ten tag names starting with `prefix`, from images you may see."""
    if not query.prefix.strip():
        return {"tags": []}
    try:
        prefix = normalise_tag(query.prefix)
    except DjangoValidationError as exc:
        raise _tag_error(exc, "prefix") from None
    return {"tags": queries.tag_suggestions(request.user, prefix)}


# --- Collections ------------------------------------------------------------------


class CollectionOut(Schema):
    id: int
    name: str
    description: str
    visibility: str = Field(..., description="`private` (only you) or `team`")
    team_can_add: bool
    owner: str = Field(..., alias="owner.username")
    can_add: bool = Field(..., description="you may add images to it and take them out")
    cover_image_id: int | None = Field(
        ..., description="the cover its creator picked, when you may see it; null: the newest "
        "added image you may see stands for the collection",
    )  # fmt: skip
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_cover_image_id(obj) -> int | None:
        return obj.cover_id if getattr(obj, "cover_visible", False) else None


class CollectionPage(Schema):
    items: list[CollectionOut]
    next_cursor: str | None


class CollectionIn(Schema):
    name: str = Field(..., max_length=1000, description="1 to 100 characters")
    description: str = Field("", max_length=10000, description="at most 2000 characters")
    visibility: str = Field("team", description="`private` or `team`")
    team_can_add: bool = False


class CollectionPatchIn(Schema):
    name: str | None = Field(None, max_length=1000)
    description: str | None = Field(None, max_length=10000)
    visibility: str | None = None
    team_can_add: bool | None = None
    cover_image_id: Id | None = Field(
        None, description="one of its images, that you may see; null: back to the newest added"
    )


class ImageIdsIn(Schema):
    image_ids: list[Id] = Field(
        ..., min_length=1, max_length=settings.GALLERY_BULK_MAX_IDS,
        description="images you may see; one you may not refuses the whole request",
    )  # fmt: skip


class CollectedOut(Schema):
    collection_id: int
    changed: int = Field(..., description="how many images went in (or came out)")


def _collection_field_error(exc: DjangoValidationError, fields: dict) -> ApiError:
    """Name the field the service refused: the code says visibility; name is checked first."""
    field = "visibility" if exc.code == "visibility" else "description"
    if field == "description" and "name" in fields:
        try:
            collection_service.clean_name(fields["name"])
        except DjangoValidationError:
            field = "name"
    return ApiError(400, "invalid_parameter", f"{field}: {' '.join(exc.messages)}", field)


def _collections(request) -> QuerySet:
    """The collections the member may see, each with `can_add` and `cover_visible` (whether
    they may see its chosen cover: an id they may not see is never answered)."""
    addable = queries.collections_addable_by(request.user).filter(pk=OuterRef("pk"))
    cover = queries.images_visible_to(request.user).filter(pk=OuterRef("cover_id"))
    return (
        queries.collections_visible_to(request.user)
        .select_related("owner")
        .annotate(can_add=Exists(addable), cover_visible=Exists(cover))
    )


def _visible_collection(request, collection_id: int):
    """The collection (with `can_add`, `cover_visible`) if the member may see it, else 404."""
    if not 1 <= collection_id <= MAX_ID:
        raise Http404
    collection = _collections(request).filter(pk=collection_id).first()
    if collection is None:
        raise Http404
    return collection


def _forbidden(exc: PermissionDenied) -> ApiError:
    return ApiError(403, "forbidden", str(exc) or "Not yours to change.")


@api.get("/collections", response={200: CollectionPage, **ERRORS}, tags=["collections"])
def list_collections(request, page: Query[PageQuery]):
    """Your collections and the team's, newest first. Their images: GET /api/images?collection=."""
    return _page(_collections(request), page.cursor, page.limit)


@api.post("/collections", response={201: CollectionOut, **ERRORS}, tags=["collections"])
def create_collection(request, payload: CollectionIn):
    fields = payload.dict()
    try:
        collection = collection_service.create_collection(request.user, **fields)
    except DjangoValidationError as exc:
        raise _collection_field_error(exc, fields) from None
    collection.can_add = True  # its creator's
    return Status(201, collection)


@api.get(
    "/collections/{collection_id}", response={200: CollectionOut, 404: ErrorOut, **ERRORS},
    tags=["collections"],
)  # fmt: skip
def collection_detail(request, collection_id: int):
    return _visible_collection(request, collection_id)


@api.patch(
    "/collections/{collection_id}",
    response={200: CollectionOut, 403: ErrorOut, 404: ErrorOut, **ERRORS}, tags=["collections"],
)  # fmt: skip
def change_collection(request, collection_id: int, payload: CollectionPatchIn):
    """Rename, describe, make private or team, let the team add, pick the cover: the creator
    only. A field absent or null stays as it is, except `cover_image_id`: null goes back to
    the newest added image. All the changes are made, or none."""
    collection = _visible_collection(request, collection_id)
    asked = payload.dict(exclude={"cover_image_id"})
    fields = {name: value for name, value in asked.items() if value is not None}
    cover_asked = "cover_image_id" in payload.model_fields_set
    if not fields and not cover_asked and collection.owner_id == request.user.pk:
        return collection  # nothing asked: nothing changes, not even its "updated" time
    cover = _cover_or_404(request, payload.cover_image_id) if cover_asked else None
    with transaction.atomic():  # a refused cover leaves the name as it was
        if fields or not cover_asked:
            _update_collection(request, collection, fields)
        if cover_asked:
            _set_cover(request, collection, cover)
    return _visible_collection(request, collection.pk) if cover_asked else collection


def _update_collection(request, collection, fields: dict) -> None:
    try:
        collection_service.update_collection(request.user, collection, **fields)
    except PermissionDenied as exc:
        raise _forbidden(exc) from None
    except DjangoValidationError as exc:
        raise _collection_field_error(exc, fields) from None


def _set_cover(request, collection, image) -> None:
    try:
        collection_service.set_cover(request.user, collection, image)
    except PermissionDenied as exc:
        raise _forbidden(exc) from None
    except DjangoValidationError as exc:
        message = f"cover_image_id: {' '.join(exc.messages)}"
        raise ApiError(400, "invalid_parameter", message, "cover_image_id") from None


def _cover_or_404(request, image_id: int | None):
    """The image asked for as a cover (None: none asked), or 404 when the member cannot see it."""
    if image_id is None:
        return None
    image = queries.images_visible_to(request.user).filter(pk=image_id).first()
    if image is None:
        raise ApiError(
            404, "not_found", "No such image, or not yours to see.", "cover_image_id"
        )  # fmt: skip
    return image


@api.delete(
    "/collections/{collection_id}", response={204: None, 403: ErrorOut, 404: ErrorOut, **ERRORS},
    tags=["collections"],
)  # fmt: skip
def delete_collection(request, collection_id: int):
    """Delete the collection (the creator only); its images stay in the gallery."""
    collection = _visible_collection(request, collection_id)
    try:
        collection_service.delete_collection(request.user, collection)
    except PermissionDenied as exc:
        raise _forbidden(exc) from None
    return Status(204, None)


def _images_or_404(request, ids: list[int]) -> list:
    """Every image asked for, or 404 naming none of them: a forged id refuses the whole."""
    images = queries.images_by_ids(request.user, sorted(set(ids)))
    if len(images) != len(set(ids)):
        raise ApiError(
            404, "not_found",
            "Some of these images do not exist or are not yours to see. Nothing was done.",
            "image_ids",
        )  # fmt: skip
    return images


@api.post(
    "/collections/{collection_id}/images",
    response={200: CollectedOut, 403: ErrorOut, 404: ErrorOut, **ERRORS}, tags=["collections"],
)  # fmt: skip
def add_to_collection(request, collection_id: int, payload: ImageIdsIn):
    """Add images you can see (already in: stay where they are) to your collection, or to a
    team collection whose creator lets the team add."""
    collection = _visible_collection(request, collection_id)
    images = _images_or_404(request, payload.image_ids)
    try:
        added = collection_service.add_images(request.user, collection, images)
    except PermissionDenied as exc:
        raise _forbidden(exc) from None
    return {"collection_id": collection.pk, "changed": added}


@api.delete(
    "/collections/{collection_id}/images/{image_id}",
    response={200: CollectedOut, 403: ErrorOut, 404: ErrorOut, **ERRORS}, tags=["collections"],
)  # fmt: skip
def remove_from_collection(request, collection_id: int, image_id: int):
    """Take an image out of the collection (it stays in the gallery)."""
    collection = _visible_collection(request, collection_id)
    if not 1 <= image_id <= MAX_ID:
        raise Http404
    images = _images_or_404(request, [image_id])
    try:
        removed = collection_service.remove_images(request.user, collection, images)
    except PermissionDenied as exc:
        raise _forbidden(exc) from None
    return {"collection_id": collection.pk, "changed": removed}


# --- Share links ------------------------------------------------------------------


class LinkOut(Schema):
    id: int
    owner: str = Field(..., alias="owner.username")
    image_id: int | None
    collection_id: int | None
    label: str
    expires_at: datetime | None
    revoked_at: datetime | None
    has_password: bool
    allow_download: bool
    show_prompt: bool
    view_count: int = Field(..., description="views counted so far (flushed periodically)")
    last_viewed_at: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_has_password(obj) -> bool:
        return bool(obj.password_hash)


class LinkCreatedOut(LinkOut):
    url: str = Field(..., description="the public link with its token: shown this once only")


class LinkPage(Schema):
    items: list[LinkOut]
    next_cursor: str | None


class LinkIn(Schema):
    image_id: Id | None = Field(None, description="the image to share (or collection_id)")
    collection_id: Id | None = Field(None, description="the collection to share (or image_id)")
    label: str = Field("", description="for you, and the title unfurled links show")
    expires_at: datetime | None = Field(
        None, description="ISO 8601 with a time zone, within five years; null: never"
    )
    password: str = Field("", description="6 to 128 characters; visitors type it once")
    allow_download: bool = False
    show_prompt: bool = True


_SHARING_FIELDS = {"one_target": "image_id", "expiry_past": "expires_at"}


def _sharing_error(exc: sharing.SharingError) -> ApiError:
    if exc.code in ("not_visible", "not_yours"):
        return ApiError(404, "not_found", exc.message)
    return ApiError(400, exc.code, exc.message, _SHARING_FIELDS.get(exc.code))


def _share_form_field(name: str, value):
    """The share form's own rule for one field (label's length, password's), as a 400."""
    try:
        return ShareLinkForm.base_fields[name].clean(value)
    except DjangoValidationError as exc:
        raise ApiError(
            400, "invalid_parameter", f"{name}: {' '.join(exc.messages)}", name
        ) from None


def _checked_expiry(expires_at: datetime | None) -> datetime | None:
    """The share form's bounds on an expiry: a time zone, and within five years (the service
    refuses one in the past)."""
    if expires_at is not None and expires_at.tzinfo is None:
        raise ApiError(400, "invalid_parameter", "expires_at needs a time zone.", "expires_at")
    if expires_at is not None and expires_at > timezone.now() + timedelta(days=LONGEST_EXPIRY_DAYS):
        raise ApiError(
            400, "invalid_parameter", "expires_at must be within five years, or null.",
            "expires_at",
        )  # fmt: skip
    return expires_at


@api.get("/links", response={200: LinkPage, **ERRORS}, tags=["links"])
def list_links(request, page: Query[PageQuery]):
    """Your share links, newest first (staff: every member's). Tokens are never shown again."""
    return _page(queries.share_links_editable_by(request.user), page.cursor, page.limit)


@api.post("/links", response={201: LinkCreatedOut, 404: ErrorOut, **ERRORS}, tags=["links"])
def create_link(request, payload: LinkIn):
    """A public link to one image or one collection you can see; its URL is answered once."""
    label = _share_form_field("label", payload.label).strip()
    password = _share_form_field("password", payload.password)
    expires_at = _checked_expiry(payload.expires_at)
    image = collection = None
    if payload.image_id is not None:
        image = get_object_or_404(queries.images_visible_to(request.user), pk=payload.image_id)
    if payload.collection_id is not None:
        collection = _visible_collection(request, payload.collection_id)
    choices = sharing.LinkChoices(
        label=label, expires_at=expires_at, allow_download=payload.allow_download,
        show_prompt=payload.show_prompt,
    )  # fmt: skip
    try:
        link, token = sharing.create_link(
            user=request.user, choices=choices, password=password, image=image,
            collection=collection,
        )  # fmt: skip
    except sharing.SharingError as exc:
        raise _sharing_error(exc) from None
    link.url = request.build_absolute_uri(reverse("gallery:share_page", args=[token]))
    return Status(201, link)


def _editable_link(request, link_id: int):
    """The member's own link (staff: anyone's), else 404: nobody else's link is visible."""
    if not 1 <= link_id <= MAX_ID:
        raise Http404
    return get_object_or_404(queries.share_links_editable_by(request.user), pk=link_id)


class LinkPatchIn(Schema):
    label: str | None = Field(None, description='"": no label')
    expires_at: datetime | None = Field(
        None, description="ISO 8601 with a time zone, in the future and within five years; "
        "null: never",
    )  # fmt: skip
    password: str | None = Field(
        None, description="a new password, 6 to 128 characters; null: remove the password"
    )
    allow_download: bool | None = None
    show_prompt: bool | None = None


@api.patch(
    "/links/{link_id}", response={200: LinkOut, 404: ErrorOut, **ERRORS}, tags=["links"]
)  # fmt: skip
def change_link(request, link_id: int, payload: LinkPatchIn):
    """Change a link's label, expiry, password or choices; the share page applies them at
    once, and a new password locks out every browser that gave the old one. A field absent
    or null stays as it is, except `expires_at` (null: never) and `password` (null: remove)."""
    link = _editable_link(request, link_id)
    sent = payload.model_fields_set
    label = link.label if payload.label is None else _share_form_field("label", payload.label)
    password = ""
    if payload.password is not None:
        password = _share_form_field("password", payload.password)
        if not password:  # blank keeps it on the page's form; here, say which is meant
            raise ApiError(
                400, "invalid_parameter",
                "password: give 6 to 128 characters, or null to remove it.", "password",
            )  # fmt: skip
    download, prompt = payload.allow_download, payload.show_prompt
    choices = sharing.LinkChoices(
        label=label.strip(),
        expires_at=_checked_expiry(payload.expires_at) if "expires_at" in sent else link.expires_at,
        allow_download=link.allow_download if download is None else download,
        show_prompt=link.show_prompt if prompt is None else prompt,
    )
    try:
        return sharing.edit_link(
            user=request.user, link=link, choices=choices, new_password=password,
            remove_password="password" in sent and payload.password is None,
        )  # fmt: skip
    except sharing.SharingError as exc:
        raise _sharing_error(exc) from None


@api.post(
    "/links/{link_id}/restore", response={200: LinkOut, 404: ErrorOut, 409: ErrorOut, **ERRORS},
    tags=["links"],
)  # fmt: skip
def restore_link(request, link_id: int):
    """Undo a revoke, within SHARE_UNDO_SECONDS of it (as the My links page's Undo); later:
    409 `undo_too_late`. A link that is not revoked is answered as it is."""
    link = _editable_link(request, link_id)
    try:
        return sharing.undo_revoke(user=request.user, link=link)
    except sharing.SharingError as exc:
        if exc.code == "undo_too_late":
            raise ApiError(409, exc.code, exc.message) from None
        raise _sharing_error(exc) from None


@api.delete("/links/{link_id}", response={200: LinkOut, 404: ErrorOut, **ERRORS}, tags=["links"])
def revoke_link(request, link_id: int):
    """Stop the link at once (revoking again changes nothing; POST .../restore undoes it for
    a short while). Another member's link: 404."""
    link = _editable_link(request, link_id)
    try:
        return sharing.revoke_link(user=request.user, link=link)
    except sharing.SharingError as exc:
        raise _sharing_error(exc) from None
