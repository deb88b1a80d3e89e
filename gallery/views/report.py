"""A member's report of an image from its page. (Visitors report from the public pages.)"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from gallery import queries
from gallery.models import Report
from gallery.services import moderation

DETAILS_MAX_CHARS = 2000


class MemberReportForm(forms.Form):
    reason = forms.ChoiceField(label=gettext_lazy("Reason"), choices=Report.Reason.choices)
    details = forms.CharField(
        label=gettext_lazy("Details (optional)"),
        required=False,
        max_length=DETAILS_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def report_image(request, pk: int):
    image = queries.image_for_page(request.user, pk)
    if image is None:
        raise Http404(_("No such image."))
    if image.owner_id == request.user.pk:
        messages.error(request, _("You cannot report your own image; you can delete it instead."))
        return redirect("gallery:image", pk=pk)
    form = MemberReportForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            moderation.report_by_member(
                member=request.user,
                image=image,
                reason=form.cleaned_data["reason"],
                details=form.cleaned_data["details"],
            )
        except moderation.ModerationError as exc:
            messages.info(request, exc.message)
        else:
            messages.success(request, _("Thank you: staff will look at this image."))
        return redirect("gallery:image", pk=pk)
    context = {"image": image, "form": form, "nav": "gallery"}
    return render(request, "gallery/report_image.html", context, status=400 if form.errors else 200)
