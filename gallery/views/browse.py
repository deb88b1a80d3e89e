"""Gallery pages for logged-in members."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from gallery import queries

PAGE_SIZE = 60


@require_safe
@login_required
def home(request):
    images = list(queries.images_visible_to(request.user)[:PAGE_SIZE])
    return render(request, "gallery/home.html", {"images": images, "nav": "gallery"})


@require_safe
@login_required
def image_detail(request, pk: int):
    image = get_object_or_404(queries.images_visible_to(request.user), pk=pk)
    return render(request, "gallery/image_detail.html", {"image": image, "nav": "gallery"})
