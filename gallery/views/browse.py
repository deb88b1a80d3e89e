"""Gallery pages for logged-in members."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from gallery import queries

PAGE_SIZE = 60


@login_required
def home(request):
    images = list(queries.images_visible_to(request.user)[:PAGE_SIZE])
    return render(request, "gallery/home.html", {"images": images, "nav": "gallery"})


@login_required
def image_detail(request, pk: int):
    image = queries.images_visible_to(request.user).filter(pk=pk).first()
    if image is None:
        if queries.hidden_image_of(request.user, pk):
            return render(request, "gallery/image_hidden.html", {"nav": "gallery"}, status=403)
        raise Http404("No such image")
    return render(request, "gallery/image_detail.html", {"image": image, "nav": "gallery"})
