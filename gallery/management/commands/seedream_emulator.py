"""Run the Seedream emulator: `python manage.py seedream_emulator --port 8090`."""

import hashlib

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from gallery.seedream.emulator import EmulatorConfig, serve


class Command(BaseCommand):
    help = "Serve a stand-in for the Seedream images API (POST /v1/images/generations)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8090)
        parser.add_argument(
            "--latency", type=float, default=settings.SEEDREAM_EMULATOR_LATENCY,
            help="seconds each generation request waits (SEEDREAM_EMULATOR_LATENCY)",
        )  # fmt: skip
        parser.add_argument(
            "--keys", default=",".join(settings.SEEDREAM_EMULATOR_KEYS),
            help="accepted Bearer keys, comma-separated (SEEDREAM_EMULATOR_KEYS)",
        )  # fmt: skip
        parser.add_argument(
            "--url-ttl", type=int, default=settings.SEEDREAM_EMULATOR_URL_TTL,
            help="lifetime of image links, seconds (SEEDREAM_EMULATOR_URL_TTL)",
        )  # fmt: skip
        parser.add_argument(
            "--ipm", type=int, default=settings.SEEDREAM_EMULATOR_IPM,
            help="images per minute before answering 429, sliding window; 0 for no limit "
            "(SEEDREAM_EMULATOR_IPM)",
        )  # fmt: skip

    def handle(self, *args, host, port, latency, keys, url_ttl, ipm, **options):
        accepted = tuple(key.strip() for key in keys.split(",") if key.strip())
        if not accepted:
            raise CommandError(
                "no API keys: set SEEDREAM_EMULATOR_KEYS (comma-separated) or pass --keys"
            )
        if latency < 0 or url_ttl < 1 or ipm < 0:
            raise CommandError("--latency and --ipm must be >= 0 and --url-ttl >= 1")
        config = EmulatorConfig(
            keys=accepted,
            signing_secret=_signing_secret(),
            latency_s=latency,
            url_ttl_s=url_ttl,
            public_url=settings.SEEDREAM_EMULATOR_PUBLIC_URL,
            models=tuple(settings.SEEDREAM_ALLOWED_MODELS),
            ipm=ipm,
        )
        self.stdout.write(
            f"Seedream emulator on http://{host}:{port}/v1 (latency {latency:g}s, "
            f"links valid {url_ttl}s, {len(accepted)} key(s), "
            f"{f'{ipm} images a minute' if ipm else 'no rate limit'})"
        )
        self.stdout.flush()
        serve(config, host=host, port=port)


def _signing_secret() -> bytes:
    # Derived, not SECRET_KEY itself: the emulator's links never carry anything of the key.
    return hashlib.sha256(b"seedream-emulator:" + settings.SECRET_KEY.encode()).digest()
