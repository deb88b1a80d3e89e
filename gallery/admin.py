"""Staff admin, the moderation panel: the moderation queue, images and members with their
moderation actions (each asking for a reason and logged), the read-only moderation log, the
prompt blocklist, usage, jobs, provider calls and quotas.

Lists stay fast on a big gallery: `list_select_related`, annotations instead of per-row
queries, filters that need no query of their own, no full COUNT (`show_full_result_count`) and
an estimated count on PostgreSQL when a list is unfiltered."""

from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import (
    Count,
    Exists,
    IntegerField,
    Min,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import truncatechars
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from gallery import search, usage
from gallery.models import (
    BlockedPrompt,
    Generation,
    Image,
    MemberQuota,
    ModerationEvent,
    PromptRule,
    ProviderCall,
    Report,
    ReportedImage,
    ShareLink,
)
from gallery.services import blocklist, moderation
from gallery.services import generation as generation_service

# The sidebar repeats the index and takes 300 px that the lists' columns need at 1280 px.
admin.site.enable_nav_sidebar = False
# Below this many rows the planner's estimate is not worth its error: count them.
ESTIMATE_ABOVE = 10_000


class EstimatedCountPaginator(Paginator):
    """On PostgreSQL a big list's count is the planner's estimate instead of a COUNT(*) that
    reads every matching row: pg_class.reltuples when unfiltered, the plan's row estimate when
    filtered or searched. Under ESTIMATE_ABOVE rows (by the estimate) it counts exactly, so
    small results are right; `is_estimate` tells the page to say "about"."""

    is_estimate = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if isinstance(queryset, QuerySet) and connections[queryset.db].vendor == "postgresql":
            estimate = self._estimate(queryset)
            if estimate is not None and estimate >= ESTIMATE_ABOVE:
                self.is_estimate = True
                return estimate
        return super().count

    @staticmethod
    def _estimate(queryset: QuerySet) -> int | None:
        with connections[queryset.db].cursor() as cursor:
            if not queryset.query.where:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [queryset.model._meta.db_table],
                )
                row = cursor.fetchone()
                return int(row[0]) if row and row[0] >= 0 else None  # -1: never analysed
            sql, params = queryset.order_by().values("pk").query.sql_with_params()
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        return int(plan[0]["Plan"]["Plan Rows"])


class FastListAdmin(admin.ModelAdmin):
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def action_checkbox(self, obj):
        """Django's checkbox without a widget template per row: rendering 100 of those took
        ~40% of a 100-row list's time (bench/bench_admin.py)."""
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            obj.pk,
            format_html(_("Select this object for an action - {}"), str(obj)),
        )


# --- Actions that ask for a reason ---------------------------------------------


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=moderation.REASON_MAX_CHARS,
        help_text=_("Kept in the moderation log with your name and the time."),
    )


def reason_action(modeladmin, request, queryset, *, service, title: str, button: str, kind: str):
    """Django's delete confirmation, for a moderation action: a page listing the selected
    objects with a Reason field; its POST runs the service, which logs a ModerationEvent."""
    select_across = request.POST.get("select_across") == "1"
    form = ReasonForm(request.POST if "confirm" in request.POST else None)
    status = 200
    if form.is_bound:
        if form.is_valid():
            try:
                event = service(
                    actor=request.user, images_or_users=queryset, reason=form.cleaned_data["reason"]
                )
            except moderation.ModerationError as exc:
                modeladmin.message_user(request, exc.message, messages.ERROR)
                return None
            count = len(event.targets)
            modeladmin.message_user(
                request,
                _("%(action)s: %(count)s done, logged with your reason.")
                % {"action": title, "count": count},
                messages.SUCCESS,
            )
            return None
        status = 400
    shown = list(queryset[:100])
    total = queryset.count() if select_across else len(shown)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "button": button,
        "kind": kind,
        "form": form,
        "objects": shown,
        "count": total,
        "more": total - len(shown),
        "select_across": select_across,
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "opts": modeladmin.model._meta,
        "form_url": request.get_full_path(),
    }
    return TemplateResponse(
        request, "admin/gallery/moderation_confirm.html", context, status=status
    )


def _images(service):
    return lambda *, actor, images_or_users, reason: service(
        actor=actor, images=images_or_users, reason=reason
    )


def _users(service):
    return lambda *, actor, images_or_users, reason: service(
        actor=actor, users=images_or_users, reason=reason
    )


class ImageModerationActions:
    """Hide, Unhide, Approve and Delete, each with a reason, for the image lists."""

    @admin.action(description=_("Hide"), permissions=["change"])
    def hide(self, request, queryset):
        return reason_action(
            self, request, queryset, service=_images(moderation.hide), title=_("Hide images"),
            button=_("Hide"), kind="image",
        )  # fmt: skip

    @admin.action(description=_("Unhide"), permissions=["change"])
    def unhide(self, request, queryset):
        return reason_action(
            self, request, queryset, service=_images(moderation.unhide),
            title=_("Unhide images"), button=_("Unhide"), kind="image",
        )  # fmt: skip

    @admin.action(description=_("Approve"), permissions=["change"])
    def approve(self, request, queryset):
        return reason_action(
            self, request, queryset, service=_images(moderation.approve),
            title=_("Approve images (close their reports)"), button=_("Approve"), kind="image",
        )  # fmt: skip

    @admin.action(description=_("Delete"), permissions=["change"])
    def delete(self, request, queryset):
        return reason_action(
            self, request, queryset, service=_images(moderation.delete),
            title=_("Delete images and their files"), button=_("Delete"), kind="image",
        )  # fmt: skip


def thumbnail(image: Image, size: int = 64):
    return format_html(
        '<img src="{}" width="{}" height="{}" class="admin-thumb" alt="" loading="lazy">',
        image.thumbnail_url,
        size,
        size,
    )


# --- Images ---------------------------------------------------------------------


def open_reports_subquery():
    return Coalesce(
        Subquery(
            Report.objects.filter(image=OuterRef("pk"), resolved_at__isnull=True)
            .order_by()
            .values("image")
            .annotate(n=Count("id"))
            .values("n")[:1],
            output_field=IntegerField(),
        ),
        0,
    )


class ReportedFilter(admin.SimpleListFilter):
    title = _("reported")
    parameter_name = "reported"

    def lookups(self, request, model_admin):
        return (("open", _("Open reports")), ("ever", _("Ever reported")), ("no", _("Never")))

    def queryset(self, request, queryset):
        reports = Report.objects.filter(image=OuterRef("pk"))
        if self.value() == "open":
            return queryset.filter(Exists(reports.filter(resolved_at__isnull=True)))
        if self.value() == "ever":
            return queryset.filter(Exists(reports))
        if self.value() == "no":
            return queryset.exclude(Exists(reports))
        return queryset


class ModelFilter(admin.SimpleListFilter):
    """The allowed models, from settings: no DISTINCT over the whole table on every page."""

    title = _("model")
    parameter_name = "model"

    def lookups(self, request, model_admin):
        return [(m, m) for m in settings.SEEDREAM_ALLOWED_MODELS]

    def queryset(self, request, queryset):
        return queryset.filter(model=self.value()) if self.value() else queryset


class AuthorFilter(admin.SimpleListFilter):
    """Members who have made something; one small query, not one per row."""

    title = _("author")
    parameter_name = "author"
    field = "owner"

    def lookups(self, request, model_admin):
        users = get_user_model().objects.order_by("username").values_list("pk", "username")
        return [(str(pk), name) for pk, name in users]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(**{f"{self.field}_id": int(value)})
        return queryset


class GenerationAuthorFilter(AuthorFilter):
    field = "user"


def prompt_search(queryset, search_term: str):
    """The gallery's own prompt search (words, partial words, Chinese), which PostgreSQL's
    full-text and trigram indexes serve, instead of the admin's UPPER(prompt) LIKE that reads
    every row."""
    if not search_term.strip():
        return queryset, False
    return queryset.filter(search.filter_for(search_term)), False


@admin.register(Image)
class ImageAdmin(ImageModerationActions, FastListAdmin):
    list_display = (
        "thumb", "id", "short_prompt", "owner", "visibility", "hidden_mark", "open_reports",
        "created_at",
    )  # fmt: skip
    list_display_links = ("thumb",)
    list_filter = (
        ReportedFilter, "is_hidden", "visibility", AuthorFilter, ModelFilter, "created_at",
    )  # fmt: skip
    list_select_related = ("owner",)
    search_fields = ("prompt",)
    actions = ("hide", "unhide", "approve", "delete")
    readonly_fields = ["preview", "hidden_mark", *(f.name for f in Image._meta.fields)]
    exclude = ("tags",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(open_report_count=open_reports_subquery())

    def get_search_results(self, request, queryset, search_term):
        return prompt_search(queryset, search_term)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting goes through the Delete action: it asks for a reason, logs it and purges S3.
        return False

    @admin.display(description=_("Prompt"), ordering="prompt")
    def short_prompt(self, obj: Image) -> str:
        return truncatechars(obj.prompt, 60)

    @admin.display(description=_("Hidden"), ordering="is_hidden")
    def hidden_mark(self, obj: Image):
        if obj.is_hidden:
            return format_html('<strong class="admin-hidden">{}</strong>', _("Hidden"))
        return ""

    @admin.display(description=_("Open reports"), ordering="open_report_count")
    def open_reports(self, obj: Image):
        return getattr(obj, "open_report_count", "") or ""

    @admin.display(description=_("Picture"))
    def preview(self, obj: Image):
        return format_html(
            '<a href="{}"><img src="{}" width="{}" height="{}" alt="" class="admin-preview"></a>',
            obj.original_url,
            obj.thumbnail_url,
            obj.thumb_width,
            obj.thumb_height,
        )

    @admin.display(description=_("Image"))
    def thumb(self, obj: Image):
        return thumbnail(obj)


# --- The moderation queue ---------------------------------------------------------


class QueueChangeList(ChangeList):
    """Adds each shown row's open report reasons in one grouped query for the whole page."""

    def get_results(self, request):
        super().get_results(request)
        rows = list(self.result_list)
        by_image: dict[int, dict[str, int]] = {}
        found = (
            Report.objects.filter(image_id__in=[r.pk for r in rows], resolved_at__isnull=True)
            .values("image_id", "reason")
            .annotate(n=Count("id"))
            .order_by()
        )
        for row in found:
            by_image.setdefault(row["image_id"], {})[row["reason"]] = row["n"]
        for row in rows:
            row.open_reasons = sorted(by_image.get(row.pk, {}).items(), key=lambda kv: -kv[1])
        self.result_list = rows


@admin.register(ReportedImage)
class ReportedImageAdmin(ImageModerationActions, FastListAdmin):
    """Images with open reports, most reported first: one row per image however many
    reports it has."""

    list_display = (
        "thumb", "short_prompt", "owner", "report_count", "reasons", "links", "hidden_mark",
        "first_reported",
    )  # fmt: skip
    list_display_links = None
    list_filter = ("is_hidden", "visibility")
    list_select_related = ("owner",)
    search_fields = ("prompt",)
    actions = ("hide", "unhide", "approve", "delete")
    paginator = Paginator  # the queue is small: count it exactly

    def get_queryset(self, request):
        open_reports = Report.objects.filter(image=OuterRef("pk"), resolved_at__isnull=True)
        first = open_reports.order_by().values("image").annotate(at=Min("created_at")).values("at")
        return (
            Image.objects.filter(Exists(open_reports))
            .annotate(report_total=open_reports_subquery(), first_report_at=Subquery(first[:1]))
            .prefetch_related(
                Prefetch(
                    "share_links",
                    queryset=ShareLink.objects.only(
                        "id", "image_id", "label", "view_count", "revoked_at", "expires_at"
                    ).order_by("-view_count", "id"),
                )
            )
        )

    def get_search_results(self, request, queryset, search_term):
        return prompt_search(queryset, search_term)

    def get_ordering(self, request):
        # Most reported first, then the longest waiting (annotations: not `ordering`).
        return ("-report_total", "first_report_at")

    def get_changelist(self, request, **kwargs):
        return QueueChangeList

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("gallery.change_image") if obj is None else False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("gallery.view_image") or request.user.has_perm(
            "gallery.change_image"
        )

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    @admin.display(description=_("Image"))
    def thumb(self, obj: Image):
        url = reverse("admin:gallery_image_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, thumbnail(obj, 96))

    @admin.display(description=_("Prompt"))
    def short_prompt(self, obj: Image) -> str:
        return truncatechars(obj.prompt, 120)

    @admin.display(description=_("Reports"), ordering="report_total")
    def report_count(self, obj: Image) -> int:
        return obj.report_total

    @admin.display(description=_("Reasons"))
    def reasons(self, obj: Image):
        labels = dict(Report.Reason.choices)
        return format_html_join(
            ", ", "{} ({})", ((labels.get(r, r), n) for r, n in getattr(obj, "open_reasons", []))
        )

    @admin.display(description=_("Share links (views)"))
    def links(self, obj: Image):
        links = list(obj.share_links.all())
        if not links:
            return "—"
        return format_html_join(
            mark_safe("<br>"),
            "{}: {} {}{}",
            (
                (
                    link.label or _("link %(id)s") % {"id": link.pk},
                    link.view_count,
                    _("views"),
                    " " + str(_("(revoked)")) if link.revoked_at else "",
                )
                for link in links
            ),
        )

    @admin.display(description=_("Hidden"))
    def hidden_mark(self, obj: Image):
        return ImageAdmin.hidden_mark(self, obj)

    @admin.display(description=_("First reported"), ordering="first_report_at")
    def first_reported(self, obj: Image):
        return obj.first_report_at


@admin.register(Report)
class ReportAdmin(FastListAdmin):
    """Every report, for staff: the reporter is shown here and nowhere else."""

    list_display = ("id", "image_link", "reason", "short_details", "reporter", "created_at",
                    "resolution")  # fmt: skip
    list_filter = ("reason", "resolution", "created_at")
    list_select_related = ("reporter", "image")
    search_fields = ("details", "image__prompt")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Image"))
    def image_link(self, obj: Report):
        url = reverse("admin:gallery_image_change", args=[obj.image_id])
        return format_html('<a href="{}">{}</a>', url, truncatechars(obj.image.prompt, 40))

    @admin.display(description=_("Details"))
    def short_details(self, obj: Report) -> str:
        return truncatechars(obj.details, 80)


# --- The moderation log -------------------------------------------------------------


@admin.register(ModerationEvent)
class ModerationEventAdmin(FastListAdmin):
    """The audit log: read-only for everyone, superusers included."""

    list_display = ("created_at", "actor_name", "action", "target_list", "reason")
    list_filter = ("action", "created_at")
    search_fields = ("actor_name", "reason")
    date_hierarchy = "created_at"
    readonly_fields = ("created_at", "actor", "actor_name", "action", "target_list", "reason")
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Objects"))
    def target_list(self, obj: ModerationEvent):
        return format_html_join(
            ", ",
            "{} {} ({})",
            ((t.get("type", "?"), t.get("id", "?"), t.get("label", "")) for t in obj.targets),
        )


# --- The prompt blocklist -------------------------------------------------------------


class PromptRuleForm(forms.ModelForm):
    class Meta:
        model = PromptRule
        fields = ("kind", "pattern", "note", "is_active")

    def clean(self):
        cleaned = super().clean()
        pattern, kind = cleaned.get("pattern"), cleaned.get("kind")
        if pattern is None or kind is None:
            return cleaned
        if kind == PromptRule.Kind.REGEX:
            problem = blocklist.regex_problem(pattern)
        else:
            problem = blocklist.word_problem(pattern)
        if problem:
            self.add_error("pattern", problem)
        return cleaned


@admin.register(PromptRule)
class PromptRuleAdmin(admin.ModelAdmin):
    form = PromptRuleForm
    list_display = ("pattern", "kind", "is_active", "note", "hit_count", "created_by", "created_at")
    list_filter = ("kind", "is_active")
    list_editable = ("is_active",)
    list_select_related = ("created_by",)
    search_fields = ("pattern", "note")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(hits_n=Count("hits"))

    @admin.display(description=_("Blocked prompts"), ordering="hits_n")
    def hit_count(self, obj: PromptRule) -> int:
        return obj.hits_n

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(BlockedPrompt)
class BlockedPromptAdmin(FastListAdmin):
    list_display = ("created_at", "user", "short_prompt", "rule_pattern", "source")
    list_filter = ("source", "created_at")
    list_select_related = ("user",)
    search_fields = ("prompt", "user__username", "rule_pattern")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Prompt"))
    def short_prompt(self, obj: BlockedPrompt) -> str:
        return truncatechars(obj.prompt, 80)


# --- Jobs and provider calls ----------------------------------------------------------


@admin.register(Generation)
class GenerationAdmin(FastListAdmin):
    list_display = (
        "id",
        "short_prompt",
        "user",
        "status",
        "size",
        "attempts",
        "error_code",
        "created_at",
    )
    list_filter = ("status", GenerationAuthorFilter, ModelFilter, "watermark", "created_at")
    list_select_related = ("user",)
    search_fields = ("prompt",)
    actions = ("retry_failed", "give_up_storing")
    readonly_fields = [f.name for f in Generation._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # A job with provider calls carries billing records: it stays. (The bulk action is
        # off too, since it cannot tell which selected jobs have calls.)
        if obj is None:
            return False
        return not obj.calls.exists()

    @admin.display(description=_("Prompt"), ordering="prompt")
    def short_prompt(self, obj: Generation) -> str:
        return truncatechars(obj.prompt, 60)

    @admin.display(description=_("Calls"), ordering="provider_attempts")
    def attempts(self, obj: Generation) -> str:
        """Provider calls made, with the repeats a crash forced in brackets."""
        if obj.repeat_calls:
            return f"{obj.provider_attempts} ({obj.repeat_calls})"
        return str(obj.provider_attempts)

    @admin.action(description="Retry the selected failed jobs")
    def retry_failed(self, request, queryset):
        retried = 0
        for g in queryset.filter(status=Generation.Status.FAILED).select_related("user"):
            try:
                generation_service.retry(user=g.user, generation_id=g.pk)
            except (
                generation_service.NotRetryable,
                generation_service.QuotaExceeded,
                generation_service.PromptBlocked,
            ):
                continue
            retried += 1
        self.message_user(request, f"Queued {retried} job(s) again.")

    @admin.action(description="Stop waiting for storage (fail the selected storing jobs)")
    def give_up_storing(self, request, queryset):
        stopped = generation_service.give_up_storing(queryset.values_list("pk", flat=True))
        self.message_user(request, f"Stopped waiting for {stopped} job(s).")


@admin.register(ProviderCall)
class ProviderCallAdmin(FastListAdmin):
    list_display = (
        "id",
        "generation",
        "user",
        "http_status",
        "error_code",
        "generated_images",
        "is_repeat",
        "started_at",
    )
    list_filter = ("http_status", "error_code", "is_repeat")
    list_select_related = ("user", "generation")
    search_fields = ("request_id", "user__username")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Members: quotas, suspension, usage -------------------------------------------------


class MemberQuotaForm(forms.ModelForm):
    """An empty limit means the site default: the member's own limit is removed."""

    daily_image_limit = forms.IntegerField(
        required=False, min_value=0, label=_("Daily image limit")
    )

    class Meta:
        model = MemberQuota
        fields = ("daily_image_limit",)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("daily_image_limit") is None and self.instance.pk:
            cleaned["DELETE"] = True
        return cleaned


class MemberQuotaInline(admin.StackedInline):
    model = MemberQuota
    form = MemberQuotaForm
    can_delete = True
    verbose_name_plural = _("Daily image limit (empty: the site default)")


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class MemberAdmin(UserAdmin):
    inlines = (MemberQuotaInline,)
    actions = ("suspend", "unsuspend")
    list_display = ("username", "email", "is_active", "is_staff", "last_login", "usage_link")

    def get_readonly_fields(self, request, obj=None):
        # Suspending ends sessions and is logged: it goes through the Suspend action only.
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "is_active") if obj is not None else fields

    @admin.action(description=_("Suspend"), permissions=["change"])
    def suspend(self, request, queryset):
        return reason_action(
            self, request, queryset, service=_users(moderation.suspend),
            title=_("Suspend members"), button=_("Suspend"), kind="user",
        )  # fmt: skip

    @admin.action(description=_("Unsuspend"), permissions=["change"])
    def unsuspend(self, request, queryset):
        return reason_action(
            self, request, queryset, service=_users(moderation.unsuspend),
            title=_("Unsuspend members"), button=_("Unsuspend"), kind="user",
        )  # fmt: skip

    @admin.display(description=_("Usage"))
    def usage_link(self, obj):
        url = reverse("admin:gallery_member_usage", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Usage"))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("usage/", view(self.team_usage_view), name="gallery_team_usage"),
            path("<int:pk>/usage/", view(self.member_usage_view), name="gallery_member_usage"),
            *super().get_urls(),
        ]

    def team_usage_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": _("Usage: the team"),
            "opts": self.model._meta,
            **usage.team_usage(),
        }
        return TemplateResponse(request, "admin/gallery/usage.html", context)

    def member_usage_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        member = get_object_or_404(User, pk=pk)
        quota_form = usage.QuotaForm(
            request.POST if request.method == "POST" else None, member=member
        )
        if request.method == "POST":
            if not self.has_change_permission(request, member):
                raise PermissionDenied
            if quota_form.is_valid():
                quota_form.save()
                self.message_user(request, _("Daily image limit saved."), messages.SUCCESS)
                return redirect("admin:gallery_member_usage", pk=member.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Usage: %(name)s") % {"name": member.get_username()},
            "opts": self.model._meta,
            "member": member,
            "quota_form": quota_form,
            **usage.member_usage(member),
        }
        status = 400 if quota_form.errors else 200
        return TemplateResponse(request, "admin/gallery/usage.html", context, status=status)
