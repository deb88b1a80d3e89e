"""Top-level URL map."""

from django.contrib import admin
from django.urls import include, path

from gallery.views import api, gateway, health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("healthz", health.healthz, name="healthz"),
    # The OpenAI-compatible gateway (a fixed point) and the JSON API.
    path("v1/images/generations", gateway.image_generations, name="gateway_generations"),
    path("v1/models", gateway.models, name="gateway_models"),
    path("api/", api.api.urls),
    path("", include("gallery.urls")),
]
