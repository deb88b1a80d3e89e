"""A member's own account: the profile page and logging out."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LogoutView
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from gallery.models import MemberProfile
from gallery.services import generation as generation_service


@require_safe
@login_required
def profile(request):
    user = request.user
    context = {
        "daily_limit": generation_service.daily_limit(user),
        "used_today": generation_service.images_used_today(user),
        "images_left": generation_service.images_left_today(user),
        "image_count": user.images.count(),
        "nav": "profile",
        "show_on_explore": MemberProfile.objects.filter(user=user, show_on_explore=True).exists(),
        "explore_enabled": settings.GALLERY_EXPLORE_ENABLED,
    }
    return render(request, "gallery/profile.html", context)


class LogOut(LogoutView):
    """Django's logout, which then says so on the login page it leads to."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, _("You have logged out."))
        return response
