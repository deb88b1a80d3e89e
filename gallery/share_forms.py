"""Forms of share links (make, edit), the visitor's password and report forms, and the
member's Explore choice."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gallery.models import Report, ShareLink
from gallery.services.sharing import LinkChoices

EXPIRY_PRESETS = {"1d": 1, "7d": 7, "30d": 30}
LONGEST_EXPIRY_DAYS = 5 * 366
REPORT_DETAILS_MAX = 2000


class ShareLinkForm(forms.Form):
    """The share form: Expires (presets or a date), Password, Allow download, Show prompt and
    seed, Label."""

    expires = forms.ChoiceField(
        label=_("Expires"),
        choices=[
            ("1d", _("In 1 day")),
            ("7d", _("In 7 days")),
            ("30d", _("In 30 days")),
            ("never", _("Never")),
            ("custom", _("On a date…")),
        ],
        initial="7d",
    )
    expires_on = forms.DateField(
        label=_("Expiry date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("With “On a date…”: the link stops at the end of that day (UTC)."),
    )
    password = forms.CharField(
        label=_("Password"),
        required=False,
        min_length=6,
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Optional: visitors must type it once per browser session."),
    )
    allow_download = forms.BooleanField(label=_("Allow download"), required=False)
    show_prompt = forms.BooleanField(label=_("Show prompt and seed"), required=False, initial=True)
    label = forms.CharField(
        label=_("Label"),
        required=False,
        max_length=ShareLink._meta.get_field("label").max_length,
        help_text=_("For you, and the title people see when the link is unfurled."),
    )

    def clean(self):
        data = super().clean()
        preset = data.get("expires")
        day = data.get("expires_on")
        if preset == "custom":
            if day is None:
                if "expires_on" not in self.errors:
                    self.add_error("expires_on", _("Pick the day the link stops working."))
            elif day < timezone.now().date():
                self.add_error("expires_on", _("Pick a day from today on."))
            elif day > timezone.now().date() + timedelta(days=LONGEST_EXPIRY_DAYS):
                self.add_error("expires_on", _("Pick a day within five years, or Never."))
        return data

    def expires_at(self) -> datetime | None:
        preset = self.cleaned_data["expires"]
        if preset == "never":
            return None
        if preset == "custom":
            day: date = self.cleaned_data["expires_on"]
            return datetime.combine(day + timedelta(days=1), time.min, UTC)
        return timezone.now() + timedelta(days=EXPIRY_PRESETS[preset])

    def choices(self) -> LinkChoices:
        return LinkChoices(
            label=self.cleaned_data["label"].strip(),
            expires_at=self.expires_at(),
            allow_download=self.cleaned_data["allow_download"],
            show_prompt=self.cleaned_data["show_prompt"],
        )


class ShareLinkEditForm(ShareLinkForm):
    """Every field of the share form; a blank password keeps the current one."""

    remove_password = forms.BooleanField(label=_("Remove the password"), required=False)

    def __init__(self, *args, link: ShareLink, **kwargs):
        if not args and "data" not in kwargs:
            kwargs["initial"] = {
                "expires": "custom" if link.expires_at else "never",
                "expires_on": (link.expires_at - timedelta(microseconds=1)).date()
                if link.expires_at
                else None,
                "allow_download": link.allow_download,
                "show_prompt": link.show_prompt,
                "label": link.label,
            }
        super().__init__(*args, **kwargs)
        self.fields["password"].help_text = (
            _("Leave blank to keep the current password.")
            if link.password_hash
            else _("Optional: visitors must type it once per browser session.")
        )

    def clean(self):
        data = super().clean()
        if data.get("remove_password") and data.get("password"):
            self.add_error("password", _("Either set a new password or remove it, not both."))
        return data


class LinkPasswordForm(forms.Form):
    password = forms.CharField(
        label=_("Password"), max_length=128, strip=False, widget=forms.PasswordInput
    )


class PublicReportForm(forms.Form):
    """A visitor's report of an image on a public page (no login)."""

    image = forms.RegexField(regex=r"^[0-9a-f]{64}$", widget=forms.HiddenInput)
    reason = forms.ChoiceField(label=_("Reason"), choices=Report.Reason.choices)
    details = forms.CharField(
        label=_("Details"),
        required=False,
        max_length=REPORT_DETAILS_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ExploreChoiceForm(forms.Form):
    show_on_explore = forms.BooleanField(
        label=_("Show my public images on Explore"), required=False
    )
