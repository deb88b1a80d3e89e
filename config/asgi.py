"""ASGI entry point: uvicorn serves this in `make dev` and docker-compose.

Django gives every ASGI request its own thread for the sync parts of its handling (signals,
sync views), kept for the request's whole life. A gateway request waits seconds to minutes
for its image, so /v1/ requests skip that per-request thread: their few sync steps share one
thread and their database work runs on the event loop's small default pool. 100 waiting
requests then cost a few threads, not 100.
"""

import os

import django
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Paths whose views are async and keep no per-request thread.
SHARED_THREAD_PREFIXES = ("/v1/",)


class GalleryASGIHandler(ASGIHandler):
    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":  # nothing to start or stop; say so, quietly
            await _lifespan(receive, send)
            return
        if scope["type"] == "http" and scope["path"].startswith(SHARED_THREAD_PREFIXES):
            await self.handle(scope, receive, send)
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
