"""The member's API tokens page: make a named token (shown once), list and revoke them."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gallery.services import api_tokens


@login_required
def token_list(request):
    new_token, error, status = "", "", 200
    if request.method == "POST":
        try:
            _token, new_token = api_tokens.create(user=request.user, name=request.POST.get("name"))
        except api_tokens.TokenNameError as exc:
            error, status = exc.message, 400
    context = {
        "tokens": api_tokens.tokens_of(request.user),
        "new_token": new_token,
        "error": error,
        "nav": "tokens",
        "gateway_url": request.build_absolute_uri("/v1"),
    }
    response = render(request, "gallery/api_tokens.html", context, status=status)
    if new_token:
        response["Cache-Control"] = "no-store"  # the only time the token is shown
    return response


@login_required
@require_POST
def revoke(request, pk: int):
    if api_tokens.revoke(user=request.user, token_id=pk):
        messages.success(request, _("Token revoked: it stops working at once."))
    else:
        messages.error(request, _("No such token, or it is already revoked."))
    return redirect("gallery:api_tokens")
