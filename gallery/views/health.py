"""/healthz: 200 when the database, Redis and S3 answer, 503 naming what does not."""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from gallery.health import check_all


@require_safe
@never_cache
def healthz(request):
    results = check_all()
    failing = {name: problem for name, problem in results.items() if problem}
    body = {
        "status": "ok" if not failing else "unavailable",
        "checks": {
            name: ("ok" if not problem else "unreachable") for name, problem in results.items()
        },
    }
    if failing:
        body["failing"] = sorted(failing)
        return JsonResponse(body, status=503)
    return JsonResponse(body)
