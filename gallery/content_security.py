"""The Content-Security-Policy: django-csp's middleware, with the S3 endpoint that browsers
load images from added to img-src at request time (tests and deployments move it)."""

from __future__ import annotations

from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings


def image_origin() -> str:
    """The scheme://host[:port] of the S3 endpoint that presigned image URLs point at."""
    endpoint = getattr(settings, "AWS_S3_PUBLIC_ENDPOINT_URL", "") or settings.AWS_S3_ENDPOINT_URL
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        origin = image_origin()
        if origin and not report_only:
            update = dict(parts.update or {})
            update["img-src"] = [*update.get("img-src", []), origin]
            parts.update = update
        return parts
