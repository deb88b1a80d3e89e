from django.urls import path

from gallery.views import browse

app_name = "gallery"

urlpatterns = [
    path("", browse.home, name="home"),
]
