"""Top-level URL map."""

from django.contrib import admin
from django.urls import include, path

from gallery.views import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", health.healthz, name="healthz"),
    path("", include("gallery.urls")),
]
