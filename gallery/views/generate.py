"""The generate form and the live job cards it leads to."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from gallery import queries
from gallery.forms import GenerationForm
from gallery.seedream.contract import RECOMMENDED_SIZES
from gallery.services import generation as generation_service


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def generate(request):
    form = GenerationForm(request.POST or None, initial=_remix_initial(request))
    if request.method == "POST" and form.is_valid():
        try:
            rows = generation_service.submit(
                user=request.user, params=form.params(), variations=form.cleaned_data["variations"]
            )
        except generation_service.QuotaExceeded as exc:
            form.add_error(None, exc.message)
        else:
            if any(row.start_delayed for row in rows):
                messages.warning(request, DELAYED_START)
            return redirect("gallery:batch", batch=rows[0].batch)
    context = {
        "form": form,
        "presets": [_preset(size) for size in RECOMMENDED_SIZES],
        "images_left": generation_service.images_left_today(request.user),
        "daily_limit": generation_service.daily_limit(request.user),
        "nav": "generate",
    }
    return render(request, "gallery/generate.html", context, status=400 if form.errors else 200)


@require_safe
@login_required
def batch(request, batch):
    generations = list(queries.batch_of(request.user, batch))
    if not generations:
        raise Http404("No such batch")
    return render(
        request,
        "gallery/batch.html",
        {"generations": generations, "first": generations[0], "nav": "generate"},
    )


@require_safe
@login_required
def card(request, pk: int):
    generation = get_object_or_404(queries.generations_of(request.user), pk=pk)
    return render(request, "gallery/partials/generation_card.html", {"generation": generation})


@login_required
@require_POST
def cancel(request, pk: int):
    # Another member's job is a 404 before anything is said about it.
    get_object_or_404(queries.generations_of(request.user), pk=pk)
    notice = ""
    if not generation_service.cancel(user=request.user, generation_id=pk):
        notice = "That job has already started and cannot be canceled."
    return _back_to_card(request, pk, notice)


@login_required
@require_POST
def retry(request, pk: int):
    failed = get_object_or_404(queries.generations_of(request.user), pk=pk)
    notice = ""
    try:
        generation = generation_service.retry(user=request.user, generation_id=pk)
    except (generation_service.NotRetryable, generation_service.QuotaExceeded) as exc:
        notice = exc.message
    else:
        if generation.seed != failed.seed:
            notice = (
                f"The provider's filter withheld the last image, so this try uses a new "
                f"seed ({generation.seed})."
            )
        if generation.start_delayed:
            notice = f"{notice} {DELAYED_START}".strip()
    return _back_to_card(request, pk, notice)


DELAYED_START = (
    "Your job is saved and will start within a minute or two: the job queue cannot be "
    "reached right now."
)


def _back_to_card(request, pk: int, notice: str = ""):
    """The job's card in place (HTMX), the notice beside it; else its batch page, the notice
    as a message for this member's next page, which is that one."""
    generation = get_object_or_404(queries.generations_of(request.user), pk=pk)
    if request.headers.get("HX-Request"):
        context = {"generation": generation, "notice": notice}
        return render(request, "gallery/partials/generation_card.html", context)
    if notice:
        messages.info(request, notice)
    return redirect("gallery:batch", batch=generation.batch)


def _remix_initial(request) -> dict | None:
    """`?remix=<image id>`: the form prefilled with every parameter of that image, seed too."""
    raw = request.GET.get("remix")
    if request.method != "GET" or not raw:
        return None
    if not raw.isdigit():
        raise Http404("No such image")
    image = get_object_or_404(queries.images_visible_to(request.user), pk=int(raw))
    return {
        "prompt": image.prompt,
        "size": image.size,
        "seed": str(image.seed),
        "guidance_scale": image.guidance_scale,
        "watermark": image.watermark,
        "model": image.model,
        "variations": 1,
    }


def _preset(size: str) -> dict:
    width, height = (int(side) for side in size.split("x"))
    scale = 56 / max(width, height)
    return {
        "size": size,
        "label": f"{width}×{height}",
        "box_w": round(width * scale),
        "box_h": round(height * scale),
    }
