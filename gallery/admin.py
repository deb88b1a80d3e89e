"""Staff admin: jobs, provider calls, images and per-member quotas."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.template.defaultfilters import truncatechars
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from gallery.models import Generation, Image, MemberQuota, ProviderCall
from gallery.services import generation as generation_service

# The sidebar repeats the index and takes 300 px that the lists' columns need at 1280 px.
admin.site.enable_nav_sidebar = False


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
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
    list_filter = ("status", "error_code", "model", "watermark")
    list_select_related = ("user",)
    search_fields = ("prompt", "user__username", "provider_request_id")
    date_hierarchy = "created_at"
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
            except (generation_service.NotRetryable, generation_service.QuotaExceeded):
                continue
            retried += 1
        self.message_user(request, f"Queued {retried} job(s) again.")

    @admin.action(description="Stop waiting for storage (fail the selected storing jobs)")
    def give_up_storing(self, request, queryset):
        stopped = generation_service.give_up_storing(queryset.values_list("pk", flat=True))
        self.message_user(request, f"Stopped waiting for {stopped} job(s).")


@admin.register(ProviderCall)
class ProviderCallAdmin(admin.ModelAdmin):
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


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ("thumb", "id", "short_prompt", "owner", "size", "is_hidden", "created_at")
    list_filter = ("is_hidden", "model", "watermark")
    list_select_related = ("owner",)
    search_fields = ("prompt", "owner__username", "sha256")
    readonly_fields = ["preview", *(f.name for f in Image._meta.fields if f.name != "is_hidden")]

    @admin.display(description=_("Prompt"), ordering="prompt")
    def short_prompt(self, obj: Image) -> str:
        return truncatechars(obj.prompt, 60)

    @admin.display(description=_("Picture"))
    def preview(self, obj: Image):
        return format_html(
            '<a href="{}"><img src="{}" width="{}" height="{}" alt="" class="admin-preview"></a>',
            obj.original_url,
            obj.thumbnail_url,
            obj.thumb_width,
            obj.thumb_height,
        )

    def has_add_permission(self, request):
        return False

    @admin.display(description="Image")
    def thumb(self, obj: Image):
        return format_html(
            '<img src="{}" width="64" height="64" style="object-fit:cover" alt="">',
            obj.thumbnail_url,
        )


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
