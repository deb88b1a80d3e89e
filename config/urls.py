"""Top-level URL map."""

from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from gallery.views import account, health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/logout/", account.LogOut.as_view(), name="logout"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("healthz", health.healthz, name="healthz"),
    # Resolved per request: the hashed name exists only once collectstatic has run.
    path(
        "favicon.ico", lambda request: HttpResponsePermanentRedirect(static("gallery/favicon.svg"))
    ),
    path("", include("gallery.urls")),
]
