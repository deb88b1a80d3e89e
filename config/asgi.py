"""ASGI entry point: uvicorn serves this in `make dev` and docker-compose.

Django gives every ASGI request its own thread for the sync parts of its handling (signals,
sync views), kept for the request's whole life. A gateway request waits seconds to minutes
for its image, so /v1/ requests skip that per-request thread: their few sync steps share one
thread and their database work runs on the event loop's small default pool. 100 waiting
requests then cost a few threads, not 100.

/v1/ requests also go through a shorter middleware chain whose hooks run on the event loop:
Django runs each sync hook of an async chain in that one shared thread (22 hops a request),
so 100 concurrent requests queued there behind each other.
"""

import os

import django
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Paths whose views are async and keep no per-request thread.
SHARED_THREAD_PREFIXES = ("/v1/",)
# The middleware a /v1/ answer needs, each hook pure CPU (headers, host, language): the
# gateway authenticates by token and its views are csrf_exempt, so no session, user, CSRF or
# message middleware runs for it.
GATEWAY_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "gallery.content_security.ContentSecurityPolicyMiddleware",
)


class GatewayASGIHandler(ASGIHandler):
    """Django's ASGI handler with GATEWAY_MIDDLEWARE (those also in settings.MIDDLEWARE, in
    its order), their hooks called on the event loop instead of in a thread."""

    def load_middleware(self, is_async=False):
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response_async)
        for path in reversed(settings.MIDDLEWARE):
            if path not in GATEWAY_MIDDLEWARE:
                continue
            middleware = import_string(path)(handler)
            if not isinstance(middleware, MiddlewareMixin) or any(
                hasattr(middleware, hook)
                for hook in ("process_view", "process_exception", "process_template_response")
            ):
                raise ImproperlyConfigured(f"{path} cannot run inline for /v1/")
            handler = convert_exception_to_response(_inline_hooks(middleware, handler))
        self._middleware_chain = handler


def _inline_hooks(middleware: MiddlewareMixin, get_response):
    """MiddlewareMixin's async call, with process_request and process_response called
    directly: they do no I/O, so a thread hop would cost more than the hook."""

    async def call(request):
        response = None
        if hasattr(middleware, "process_request"):
            response = middleware.process_request(request)
        response = response or await get_response(request)
        if hasattr(middleware, "process_response"):
            response = middleware.process_response(request, response)
        return response

    return call


class GalleryASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self.gateway = GatewayASGIHandler()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":  # nothing to start or stop; say so, quietly
            await _lifespan(receive, send)
            return
        if scope["type"] == "http" and scope["path"].startswith(SHARED_THREAD_PREFIXES):
            await self.gateway.handle(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def get_asgi_application() -> GalleryASGIHandler:
    django.setup(set_prefix=False)
    return GalleryASGIHandler()


application = get_asgi_application()
