"""Read-side selectors shared by pages, the API and the admin: permission rules live here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC as utc
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from taggit.models import Tag

from gallery import search
from gallery.models import (
    Collection,
    CollectionItem,
    Favourite,
    Generation,
    Image,
    ImageTag,
    SavedSearch,
    ShareLink,
    Visibility,
)

JOBS_PAGE_SIZE = 50


def visible_images_rule(user) -> Q:
    """The one visibility rule: which images a member may see. Nobody sees what moderation
    hid here; a private image only its author and staff (team and public images: everyone)."""
    rule = Q(is_hidden=False)
    if user.is_staff:
        return rule
    return rule & (~Q(visibility=Visibility.PRIVATE) | Q(owner=user))


def _through(rule: Q, prefix: str) -> Q:
    """The same rule on a related image (`prefix` like "image__"), so a query can join to the
    image instead of testing membership in a subquery over every image."""
    moved = Q()
    moved.connector, moved.negated = rule.connector, rule.negated
    for child in rule.children:
        if isinstance(child, Q):
            moved.children.append(_through(child, prefix))
        else:
            lookup, value = child
            moved.children.append((prefix + lookup, value))
    return moved


def images_changeable_by(user) -> QuerySet[Image]:
    """The images a member may change (tags, visibility, delete): their own, or any for staff.
    A teammate's image they can see but not change answers 403; one they cannot see, 404."""
    if not user.is_authenticated:
        return Image.objects.none()
    images = Image.objects.filter(visible_images_rule(user))
    return images if user.is_staff else images.filter(owner=user)


def can_change_image(user, image: Image) -> bool:
    """images_changeable_by for one image already known to be visible (no query)."""
    return user.is_authenticated and (user.is_staff or image.owner_id == user.pk)


def collections_visible_to(user) -> QuerySet[Collection]:
    """A member's own collections and every team collection."""
    if not user.is_authenticated:
        return Collection.objects.none()
    return Collection.objects.filter(Q(owner=user) | Q(visibility=Collection.Visibility.TEAM))


def collections_addable_by(user) -> QuerySet[Collection]:
    """The collections a member may add images to (and take them out of): their own, and team
    collections whose creator let the team add."""
    if not user.is_authenticated:
        return Collection.objects.none()
    return Collection.objects.filter(
        Q(owner=user) | Q(visibility=Collection.Visibility.TEAM, team_can_add=True)
    )


def images_visible_to(user, *, filters: GalleryFilters | None = None) -> QuerySet[Image]:
    """The images a member may see, narrowed by the gallery's filters when given."""
    if not user.is_authenticated:
        return Image.objects.none()
    images = Image.objects.filter(visible_images_rule(user)).select_related("owner")
    if filters is not None:
        images = images.filter(filters.condition(user))
    return images


def images_by_ids(user, ids: list[int]) -> list[Image]:
    """The images of a bulk selection the member may see, in the order asked, in one query.
    Fewer than asked means some id is not theirs to see: the caller refuses the whole."""
    order = {pk: n for n, pk in enumerate(ids)}
    images = list(images_visible_to(user).filter(pk__in=ids))
    return sorted(images, key=lambda image: order[image.pk])


def tag_names_of(images: list[Image]) -> dict[int, list[str]]:
    """Each image's tag names, for a whole selection in one query."""
    names: dict[int, list[str]] = {}
    rows = ImageTag.objects.filter(content_object__in=[image.pk for image in images])
    for image_id, name in rows.values_list("content_object_id", "tag__name"):
        names.setdefault(image_id, []).append(name)
    return names


def hidden_image_of(user, pk: int) -> bool:
    """True when the image is the member's own and staff have hidden it: they get told so."""
    return Image.objects.filter(pk=pk, owner=user, is_hidden=True).exists()


def generations_of(user) -> QuerySet[Generation]:
    return Generation.objects.filter(user=user).select_related("image")


def generations_visible_to(user) -> QuerySet[Generation]:
    """A member's own jobs; staff see everyone's."""
    if user.is_staff:
        return Generation.objects.select_related("image", "user")
    return generations_of(user)


def batch_of(user, batch) -> QuerySet[Generation]:
    return generations_visible_to(user).filter(batch=batch).order_by("id")


@dataclass(frozen=True)
class GalleryFilters:
    """One view of the gallery, as the URL's query string spells it (see GalleryFilterForm)."""

    q: str = ""
    mine: bool = False
    member: str = ""
    model: str = ""
    orientation: str = ""
    size: tuple[int, int] | None = None
    date_from: date | None = None
    date_to: date | None = None
    favourites: bool = False
    watermark: bool | None = None
    sort: str = "newest"  # newest, oldest, or added (newest added first: a collection's order)
    flat: bool = False
    tags: tuple[str, ...] = ()  # normalised names; an image must carry every one
    # Their ids when known (the filter form looks them up): a constant the planner can weigh,
    # so a tag on a third of the gallery walks the date index instead of sorting them all.
    tag_ids: tuple[int, ...] | None = None
    collection: int | None = None

    @property
    def stacked(self) -> bool:
        """Batches show as one tile, unless the member asked for every image, searched or
        looks at a collection (whose images were picked one by one)."""
        return not self.flat and not self.q and self.collection is None

    @property
    def newest_first(self) -> bool:
        return self.sort != "oldest"

    @property
    def by_added(self) -> bool:
        return self.sort == "added" and self.collection is not None

    @property
    def order_field(self) -> str:
        """The timestamp the list is ordered by."""
        return "added_at" if self.by_added else "created_at"

    @property
    def tie_field(self) -> str:
        """What breaks ties: the image's id, or in a collection the item's, so the order is
        exactly the index (collection, added_at, id) and a page reads 49 rows of it."""
        return "item_id" if self.by_added else "id"

    def condition(self, user) -> Q:
        condition = Q()
        if self.mine:
            condition &= Q(owner=user)
        if self.member:
            condition &= Q(owner__username=self.member)
        if self.model:
            condition &= Q(model=self.model)
        if self.orientation == "landscape":
            condition &= Q(width__gt=F("height"))
        elif self.orientation == "portrait":
            condition &= Q(width__lt=F("height"))
        elif self.orientation == "square":
            condition &= Q(width=F("height"))
        if self.size:
            condition &= Q(width=self.size[0], height=self.size[1])
        if self.date_from:
            condition &= Q(created_at__gte=datetime.combine(self.date_from, time.min, utc))
        if self.date_to and self.date_to < date.max:  # the last day there is: no bound
            end = datetime.combine(self.date_to + timedelta(days=1), time.min, utc)
            condition &= Q(created_at__lt=end)
        if self.favourites:
            condition &= Q(Exists(Favourite.objects.filter(user=user, image=OuterRef("pk"))))
        if self.watermark is not None:
            condition &= Q(watermark=self.watermark)
        if self.q:
            condition &= search.filter_for(self.q)
        if self.tag_ids is not None and len(self.tag_ids) < len(self.tags):
            condition &= Q(pk__in=[])  # a tag nobody has: nothing carries it
        elif self.tag_ids is not None and len(self.tag_ids) > 1:
            # Several tags: the images holding all of them, found from the tags' own rows
            # (index tag, image), not by walking the whole gallery by date for a rare match.
            # (An image holds a tag once, so counting rows counts tags: no DISTINCT, no sort.)
            holding_all = (
                ImageTag.objects.filter(tag_id__in=self.tag_ids)
                .values("content_object_id")
                .annotate(n=Count("id"))
                .filter(n=len(set(self.tag_ids)))
                .values("content_object_id")
            )
            condition &= Q(pk__in=holding_all)
        elif self.tag_ids is not None:
            for tag_id in self.tag_ids:
                tagged = ImageTag.objects.filter(content_object=OuterRef("pk"), tag_id=tag_id)
                condition &= Q(Exists(tagged))
        else:
            for name in self.tags:
                tagged = ImageTag.objects.filter(content_object=OuterRef("pk"), tag__name=name)
                condition &= Q(Exists(tagged))
        if self.collection is not None:
            # A join on the items (one row per image: an image is in a collection once), and
            # only through a collection the member may see (checked once, not per image): a
            # private one of another's lists nothing.
            seen = collections_visible_to(user).filter(pk=self.collection)
            condition &= Q(collection_items__collection_id=self.collection) & Q(Exists(seen))
        return condition


@dataclass(frozen=True)
class Cursor:
    """A position in the gallery's order: the (created_at, id) of an image."""

    created_at: datetime
    id: int

    @classmethod
    def of(cls, image: Image, field: str = "created_at", tie: str = "id") -> Cursor:
        return cls(getattr(image, field), getattr(image, tie))


@dataclass
class GalleryPage:
    images: list[Image]
    older: Cursor | None  # continue in the sort order from here
    newer: Cursor | None  # go back towards the start from here


def _towards_end(
    images: QuerySet[Image],
    cursor: Cursor,
    newest_first: bool,
    field: str = "created_at",
    tie: str = "id",
) -> QuerySet:
    # `created_at <= t` is the index bound; the OR only settles ties at t.
    at = cursor.created_at
    if newest_first:
        return images.filter(
            Q(**{f"{field}__lte": at}), Q(**{f"{field}__lt": at}) | Q(**{f"{tie}__lt": cursor.id})
        ).order_by(f"-{field}", f"-{tie}")
    return images.filter(
        Q(**{f"{field}__gte": at}), Q(**{f"{field}__gt": at}) | Q(**{f"{tie}__gt": cursor.id})
    ).order_by(field, tie)


def _towards_start(
    images: QuerySet[Image],
    cursor: Cursor,
    newest_first: bool,
    field: str = "created_at",
    tie: str = "id",
) -> QuerySet:
    return _towards_end(images, cursor, not newest_first, field, tie)


def _listed(user, filters: GalleryFilters) -> QuerySet[Image]:
    images = images_visible_to(user, filters=filters)
    if filters.by_added:
        # The condition's join on the items (index: collection, added_at, id) gives the order.
        images = images.annotate(
            added_at=F("collection_items__added_at"), item_id=F("collection_items__id")
        )
    if filters.stacked:
        # A batch shows as its first image among those the view lists.
        earlier_sibling = Image.objects.filter(
            visible_images_rule(user),
            filters.condition(user),
            batch=OuterRef("batch"),
            id__lt=OuterRef("id"),
        )
        images = images.filter(~Exists(earlier_sibling))
    return images


def gallery_page(
    user,
    filters: GalleryFilters,
    *,
    per_page: int,
    after: Cursor | None = None,
    before: Cursor | None = None,
    with_favourite: bool = False,
) -> GalleryPage:
    """One page of the gallery by keyset (never OFFSET): after a cursor, before it, or the
    first page. Stacked views carry `stack_count` on each image (one more query);
    `with_favourite` adds `is_favourite` to each image in the same query."""
    images = _listed(user, filters)
    if with_favourite:
        images = _with_favourite(user, images)
    field, tie = filters.order_field, filters.tie_field
    order = (f"-{field}", f"-{tie}") if filters.newest_first else (field, tie)
    if before is not None:
        rows = list(
            _towards_start(images, before, filters.newest_first, field, tie)[: per_page + 1]
        )
        more_before = len(rows) > per_page
        rows = rows[:per_page][::-1]
        page = GalleryPage(
            rows,
            older=Cursor.of(rows[-1], field, tie) if rows else before,
            newer=Cursor.of(rows[0], field, tie) if rows and more_before else None,
        )
    else:
        if after is not None:
            rows = list(
                _towards_end(images, after, filters.newest_first, field, tie)[: per_page + 1]
            )
        else:
            rows = list(images.order_by(*order)[: per_page + 1])
        more = len(rows) > per_page
        rows = rows[:per_page]
        page = GalleryPage(
            rows,
            older=Cursor.of(rows[-1], field, tie) if rows and more else None,
            newer=Cursor.of(rows[0], field, tie) if rows and after is not None else None,
        )
    if filters.stacked:
        _count_stacks(user, filters, page.images)
    return page


def _count_stacks(user, filters: GalleryFilters, images: list[Image]) -> None:
    batches = {image.batch for image in images}
    counts = dict(
        Image.objects.filter(visible_images_rule(user), filters.condition(user))
        .filter(batch__in=batches)
        .values("batch")
        .annotate(n=Count("id"))
        .values_list("batch", "n")
    ) if batches else {}  # fmt: skip
    for image in images:
        image.stack_count = counts.get(image.batch, 1)


def neighbours(user, image: Image, filters: GalleryFilters) -> tuple[Image | None, Image | None]:
    """The images before and after this one in the list the member came from."""
    images = _listed(user, filters)
    field, tie = filters.order_field, filters.tie_field
    if filters.by_added:
        added = CollectionItem.objects.filter(collection_id=filters.collection, image=image)
        item = added.values_list("added_at", "id").first()
        if item is None:  # not (or no longer) in the collection: no neighbours there
            return None, None
        cursor = Cursor(*item)
    else:
        cursor = Cursor.of(image)
    previous = _towards_start(images, cursor, filters.newest_first, field, tie).first()
    following = _towards_end(images, cursor, filters.newest_first, field, tie).first()
    return previous, following


def batch_siblings(user, image: Image) -> list[Image]:
    """The visible images of this image's batch (itself included), in the order made."""
    return list(
        Image.objects.filter(visible_images_rule(user), batch=image.batch).order_by("id")[:16]
    )


def _with_favourite(user, images: QuerySet[Image]) -> QuerySet[Image]:
    return images.annotate(
        is_favourite=Exists(Favourite.objects.filter(user=user, image=OuterRef("pk")))
    )


def image_for_page(user, pk: int) -> Image | None:
    images = images_visible_to(user).select_related("generation")
    return _with_favourite(user, images).filter(pk=pk).first()


def batches_visible_to(user) -> QuerySet:
    """One row per batch, newest first, with how many of its jobs are in each state."""
    active = list(Generation.ACTIVE)
    return (
        generations_visible_to(user)
        .values("batch", "user__username")
        .annotate(
            created_at=Min("created_at"),
            prompt=Min("prompt"),
            width=Min("width"),
            height=Min("height"),
            total=Count("id"),
            running=Count("id", filter=Q(status__in=active)),
            succeeded=Count("id", filter=Q(status=Generation.Status.SUCCEEDED)),
            failed=Count("id", filter=Q(status=Generation.Status.FAILED)),
            canceled=Count("id", filter=Q(status=Generation.Status.CANCELED)),
            last_change=Max("status_changed_at"),
        )
        .order_by("-created_at", "batch")
    )


def running_count(user) -> int:
    return Generation.objects.filter(user=user, status__in=Generation.ACTIVE).count()


def running_strip_of(user, *, since: datetime) -> list[Generation]:
    """The member's jobs still running, and those that finished since `since` (the gallery's
    load), oldest first: the strip above the gallery."""
    finished_lately = Q(finished_at__gte=since) & ~Q(status=Generation.Status.CANCELED)
    return list(
        generations_of(user)
        .filter(Q(status__in=Generation.ACTIVE) | finished_lately)
        .order_by("created_at", "id")[:24]
    )


def last_generation_of(user) -> Generation | None:
    return Generation.objects.filter(user=user).order_by("-created_at", "-id").first()


# --- Share links and public pages -------------------------------------------


def share_links_editable_by(user) -> QuerySet[ShareLink]:
    """A member's own links; staff see and may change every member's."""
    if not user.is_authenticated:
        return ShareLink.objects.none()
    links = ShareLink.objects.select_related("owner", "image", "collection", "collection__cover")
    return links if user.is_staff else links.filter(owner=user)


def share_links_page(user) -> list[ShareLink]:
    """The My links page: every link of the member (staff: everyone's), newest first, each
    with `thumb` set to its image, or its collection's cover or first visible image."""
    links = list(share_links_editable_by(user).order_by("-created_at", "-id")[:500])
    collection_ids = {link.collection_id for link in links if link.collection_id}
    firsts: dict[int, Image] = {}
    if collection_ids:
        items = (
            CollectionItem.objects.filter(collection_id__in=collection_ids, image__is_hidden=False)
            .select_related("image")
            .order_by("collection_id", "added_at", "id")
        )
        for item in items:
            firsts.setdefault(item.collection_id, item.image)
    for link in links:
        if link.image_id:
            link.thumb = link.image
        else:
            cover = link.collection.cover
            link.thumb = cover if cover and not cover.is_hidden else firsts.get(link.collection_id)
    return links


def shared_images(link: ShareLink) -> QuerySet[Image]:
    """What a link shows at this moment: its image, or the collection's images, that its
    sharer may still see (private, hidden or deleted ones drop out at once)."""
    images = Image.objects.filter(visible_images_rule(link.owner))
    if link.image_id is not None:
        return images.filter(pk=link.image_id)
    return images.filter(collection_items__collection_id=link.collection_id)


@dataclass(frozen=True)
class PublicCursor:
    """A position on a public page, in words a visitor may see: a time and a content hash
    (no database ids). Spelled `<microseconds>.<sha256>` in the URL."""

    at: datetime
    sha256: str

    def __str__(self) -> str:
        return f"{round(self.at.timestamp() * 1_000_000)}.{self.sha256}"

    @classmethod
    def parse(cls, text: str) -> PublicCursor | None:
        stamp, _, sha = (text or "").partition(".")
        if not stamp.isdigit() or len(stamp) > 18 or not _is_sha256(sha):
            return None
        try:
            at = datetime.fromtimestamp(int(stamp) / 1_000_000, tz=utc)
        except (OverflowError, OSError, ValueError):
            return None
        return cls(at, sha)


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


@dataclass
class PublicPage:
    images: list[Image]
    next_cursor: PublicCursor | None


def _public_page(ordered: QuerySet[Image], stamp: str, per_page: int) -> PublicPage:
    """The first `per_page` rows, and the cursor after the last when there are more."""
    rows = list(ordered[: per_page + 1])
    more = len(rows) > per_page
    rows = rows[:per_page]
    cursor = PublicCursor(getattr(rows[-1], stamp), rows[-1].sha256) if more else None
    return PublicPage(rows, cursor)


def shared_collection_page(
    link: ShareLink, *, per_page: int, after: PublicCursor | None = None
) -> PublicPage:
    """One page of a shared collection in the order images were added, by keyset on (when
    added, content hash); each image carries `added_at`."""
    images = shared_images(link).annotate(added_at=F("collection_items__added_at"))
    if after is not None:
        images = images.filter(
            Q(added_at__gt=after.at) | Q(added_at=after.at, sha256__gt=after.sha256)
        )
    return _public_page(images.order_by("added_at", "sha256", "id"), "added_at", per_page)


def shared_image(link: ShareLink, ref: str) -> Image | None:
    """The image a public page names by its content hash, if the link shows it now."""
    if not _is_sha256(ref):
        return None
    return shared_images(link).filter(sha256=ref).order_by("id").first()


def shared_cover(link: ShareLink) -> Image | None:
    """The picture that stands for a link (its image, or the collection's cover or first)."""
    images = shared_images(link)
    if link.collection_id and link.collection.cover_id:
        cover = images.filter(pk=link.collection.cover_id).first()
        if cover is not None:
            return cover
    return (
        images.annotate(added_at=F("collection_items__added_at"))
        .order_by("added_at", "sha256", "id")
        .first()
        if link.collection_id
        else images.first()
    )


def explore_images() -> QuerySet[Image]:
    """The public showcase: public images, not hidden, of active members who opted in."""
    return Image.objects.filter(
        is_hidden=False,
        visibility=Visibility.PUBLIC,
        owner__is_active=True,
        owner__gallery_profile__show_on_explore=True,
    )


def explore_page(*, per_page: int, after: PublicCursor | None = None) -> PublicPage:
    """One page of /explore/, newest first, by keyset on (created, content hash)."""
    images = explore_images()
    if after is not None:
        images = images.filter(
            Q(created_at__lt=after.at) | Q(created_at=after.at, sha256__lt=after.sha256)
        )
    return _public_page(images.order_by("-created_at", "-sha256", "-id"), "created_at", per_page)


def explore_image(ref: str) -> Image | None:
    if not _is_sha256(ref):
        return None
    return explore_images().filter(sha256=ref).order_by("-id").first()


# --- tags, collections, saved searches --------------------------------------------------------

TAG_SUGGESTIONS = 10


def tags_of_image(image: Image) -> list[str]:
    """The names of a (visible) image's tags, in order."""
    return sorted(image.tags.values_list("name", flat=True))


def tag_suggestions(user, prefix: str, *, limit: int = TAG_SUGGESTIONS) -> list[str]:
    """Tag names starting with `prefix` that are on at least one image the member may see, so a
    tag only on someone's private images is never suggested to others. One query."""
    if not prefix or not user.is_authenticated:
        return []
    seen = ImageTag.objects.filter(
        _through(visible_images_rule(user), "content_object__"), tag=OuterRef("pk")
    )
    return list(
        Tag.objects.filter(name__startswith=prefix)
        .filter(Exists(seen))
        .order_by("name")
        .values_list("name", flat=True)[:limit]
    )


def tag_visible_to(user, name: str) -> bool:
    """Whether the member may see any image carrying this tag: otherwise its page is a 404."""
    if not user.is_authenticated:
        return False
    return ImageTag.objects.filter(
        _through(visible_images_rule(user), "content_object__"), tag__name=name
    ).exists()


def _items_seen_by(user, **where) -> QuerySet[CollectionItem]:
    """Collection items whose image the member may see. The check is a LIMIT 1 subquery, which
    PostgreSQL keeps as one primary-key lookup per item, where a join is planned as a scan of
    every image (100 ms at 100,000 images) to count a 5,000-image collection."""
    seen = Image.objects.filter(visible_images_rule(user), pk=OuterRef("image_id")).values("pk")
    return (
        CollectionItem.objects.filter(**where)
        .alias(seen=Subquery(seen[:1]))
        .filter(seen__isnull=False)
    )


def collection_for_page(user, pk: int) -> Collection | None:
    """A collection the member may see (a private one of another's is None: a 404), with
    `can_add` (may add and remove images). No count: counting what the member may see of
    5,000 images costs more than the page (the list of collections shows it)."""
    addable = collections_addable_by(user).filter(pk=OuterRef("pk"))
    return (
        collections_visible_to(user)
        .select_related("owner")
        .annotate(can_add=Exists(addable))
        .filter(pk=pk)
        .first()
    )


def collections_for_list(user) -> list[Collection]:
    """The member's own and the team's collections, newest change first, each with
    `visible_count` and `cover_image` (the chosen cover when the member may see it, else the
    newest added image they may see). Two queries however many collections."""
    items = _items_seen_by(user, collection=OuterRef("pk"))
    counted = items.order_by().values("collection").annotate(n=Count("id")).values("n")
    newest = items.order_by("-added_at", "-id").values("image_id")[:1]
    collections = list(
        collections_visible_to(user)
        .select_related("owner")
        .annotate(visible_count=Coalesce(Subquery(counted), 0), newest_image_id=Subquery(newest))
        .order_by("-updated_at", "-id")[:500]
    )
    wanted = {c.cover_id for c in collections} | {c.newest_image_id for c in collections}
    wanted.discard(None)
    covers = Image.objects.filter(visible_images_rule(user), pk__in=wanted) if wanted else []
    by_id = {image.pk: image for image in covers}
    for collection in collections:
        collection.cover_image = by_id.get(collection.cover_id) or by_id.get(
            collection.newest_image_id
        )
    return collections


def collection_choices_for_image(user, image: Image) -> list[Collection]:
    """The collections the member may add this image to, each with `has_image`. One query."""
    holds = CollectionItem.objects.filter(collection=OuterRef("pk"), image=image)
    return list(
        collections_addable_by(user).annotate(has_image=Exists(holds)).order_by("name", "id")[:200]
    )


SAVED_SEARCHES_IN_NAV = 20


def saved_searches_of(user) -> QuerySet[SavedSearch]:
    return SavedSearch.objects.filter(owner=user).order_by("name", "id")
