"""Top-level URL map."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path, re_path

from gallery.views import account, api, gateway, health

# Log in, log out and password change only: no password reset until the site sends e-mail.
FORM_METHODS = ["get", "head", "post"]
auth_urls = [
    path(
        "login/",
        auth_views.LoginView.as_view(http_method_names=FORM_METHODS),
        name="login",
    ),
    path("logout/", account.LogOut.as_view(http_method_names=["post"]), name="logout"),
    path(
        "password_change/",
        auth_views.PasswordChangeView.as_view(http_method_names=FORM_METHODS),
        name="password_change",
    ),
    path(
        "password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(http_method_names=["get", "head"]),
        name="password_change_done",
    ),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include(auth_urls)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", health.healthz, name="healthz"),
    # Resolved per request: the hashed name exists only once collectstatic has run.
    path(
        "favicon.ico", lambda request: HttpResponsePermanentRedirect(static("gallery/favicon.svg"))
    ),
    # The OpenAI-compatible gateway (a fixed point) and the JSON API.
    path("v1/images/generations", gateway.image_generations, name="gateway_generations"),
    path("v1/models", gateway.models, name="gateway_models"),
    path("api/", api.api.urls),
    re_path(r"^api/", api.unmatched),  # anything else under /api/: JSON, not the HTML 404
    path("", include("gallery.urls")),
]

handler400 = "gallery.views.errors.bad_request"
handler500 = "gallery.views.errors.server_error"
