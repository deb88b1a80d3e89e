"""The generate form and the live job cards it leads to."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from gallery import queries
from gallery.forms import GenerationForm, ratio_name, settings_of
from gallery.models import STATUS_WORDS, Generation
from gallery.seedream.contract import RECOMMENDED_SIZES, SEED_MAX
from gallery.services import generation as generation_service


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def generate(request):
    if request.method == "POST":
        form = GenerationForm(request.POST)
    else:
        form = GenerationForm(initial=_remix_initial(request) or _initial_settings(request))
    if request.method == "POST" and form.is_valid():
        try:
            rows = generation_service.submit(
                user=request.user,
                params=form.params(),
                variations=form.cleaned_data["variations"],
                visibility=form.cleaned_data["visibility"] or None,
            )
        except generation_service.QuotaExceeded as exc:
            form.add_error(None, exc.message)
        except generation_service.PromptBlocked as exc:
            form.add_error("prompt", exc.message)
        else:
            if any(row.start_delayed for row in rows):
                messages.warning(request, DELAYED_START)
            return redirect("gallery:batch", batch=rows[0].batch)
    images_left = generation_service.images_left_today(request.user)
    context = {
        "form": form,
        "presets": [_preset(size) for size in RECOMMENDED_SIZES],
        "images_left": images_left,
        "daily_limit": generation_service.daily_limit(request.user),
        "over_quota": _variations_asked(form) > images_left,
        "seed_max": SEED_MAX,
        "nav": "generate",
    }
    return render(request, "gallery/generate.html", context, status=400 if form.errors else 200)


def _initial_settings(request) -> dict:
    """`?from=<batch>`: that batch's settings and prompt ("Same settings"); otherwise the
    member's last used settings, with a fresh prompt."""
    try:
        source = uuid.UUID(request.GET.get("from", ""))
    except ValueError:  # absent or not a batch id: the last used settings
        source = None
    if source is not None:
        first = queries.batch_of(request.user, source).first()
        if first is not None:
            count = Generation.objects.filter(batch=first.batch).count()
            return settings_of(first, variations=count, with_prompt=True)
    last = queries.last_generation_of(request.user)
    if last is None:
        return {}
    count = Generation.objects.filter(batch=last.batch).count()
    return settings_of(last, variations=count, with_prompt=False)


def _variations_asked(form: GenerationForm) -> int:
    raw = form.data.get("variations") if form.is_bound else form.initial.get("variations", 1)
    try:
        return int(raw)
    except (TypeError, ValueError):
        return 1


@require_safe
@login_required
def batch(request, batch):
    generations = list(queries.batch_of(request.user, batch))
    if not generations:
        raise Http404("No such batch")
    first = generations[0]
    progress = batch_progress(generations)
    context = {
        "generations": generations,
        "first": first,
        "progress": progress,
        "is_owner": first.user_id == request.user.pk,
        "nav": "jobs",
    }
    return render(request, "gallery/batch.html", context)


def batch_progress(generations) -> dict:
    """How far a batch has got: "(2/4) Generating" for the tab title, and whether any of
    its jobs are still waiting to start."""
    statuses = [g.status for g in generations]
    finished = sum(status in Generation.TERMINAL for status in statuses)
    running = [status for status in statuses if status in Generation.ACTIVE]
    if running:
        # The step the slowest job is at: the batch is no further along than that.
        word = STATUS_WORDS[min(running, key=list(Generation.ACTIVE).index)]
    elif Generation.Status.SUCCEEDED in statuses:
        word = STATUS_WORDS["succeeded"]
    else:
        word = STATUS_WORDS[statuses[0]] if statuses else ""
    return {
        "finished": finished,
        "total": len(statuses),
        "active": bool(running),
        "queued": statuses.count(Generation.Status.QUEUED),
        "title": f"({finished}/{len(statuses)}) {word}",
    }


@require_safe
@login_required
def card(request, pk: int):
    generation = get_object_or_404(queries.generations_visible_to(request.user), pk=pk)
    return _render_card(request, generation)


def _render_card(request, generation: Generation, notice: str = ""):
    # Sent with the batch's progress, so the tab title keeps up with every card (htmx takes
    # a top-level <title> in a swapped response as the page's title).
    siblings = Generation.objects.filter(batch=generation.batch).only("status")
    context = {
        "generation": generation,
        "is_owner": generation.user_id == request.user.pk,
        "progress": batch_progress(list(siblings)),
        "as_response": True,
        "notice": notice,
    }
    return render(request, "gallery/partials/generation_card.html", context)


@login_required
@require_POST
def cancel(request, pk: int):
    # Another member's job is a 404 before anything is said about it.
    get_object_or_404(queries.generations_of(request.user), pk=pk)
    notice = ""
    if not generation_service.cancel(user=request.user, generation_id=pk):
        notice = _("That job has already started and cannot be canceled.")
    return _back_to_card(request, pk, notice)


@login_required
@require_POST
def cancel_rest(request, batch):
    if not queries.batch_of(request.user, batch).filter(user=request.user).exists():
        raise Http404("No such batch")
    canceled = generation_service.cancel_queued(user=request.user, batch=batch)
    if canceled:
        messages.info(request, _("Canceled %(n)d waiting job(s).") % {"n": canceled})
    else:
        messages.info(request, _("No job was waiting: the rest had already started."))
    return redirect("gallery:batch", batch=batch)


@login_required
@require_POST
def retry(request, pk: int):
    failed = get_object_or_404(queries.generations_of(request.user), pk=pk)
    notice = ""
    try:
        generation = generation_service.retry(user=request.user, generation_id=pk)
    except (
        generation_service.NotRetryable,
        generation_service.QuotaExceeded,
        generation_service.PromptBlocked,
    ) as exc:
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
        return _render_card(request, generation, notice)
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
        # A remix of one's own private image stays private; of a teammate's, the default.
        **({"visibility": image.visibility} if image.owner_id == request.user.pk else {}),
    }


def _preset(size: str) -> dict:
    width, height = (int(side) for side in size.split("x"))
    scale = 56 / max(width, height)
    return {
        "size": size,
        "ratio": ratio_name(width, height),
        "label": f"{width}×{height}",
        "box_w": round(width * scale),
        "box_h": round(height * scale),
    }
