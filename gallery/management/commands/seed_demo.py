"""Create the demo staff login for local stacks, and fill the gallery with demo images."""

import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from gallery.services import demo

# Up to this many images go through the real pipeline (emulator or API); more are drawn here.
PIPELINE_MAX = 24


class Command(BaseCommand):
    help = (
        "Create or refresh the staff user `demo` (DEBUG only; password from DEMO_PASSWORD), "
        "and with --count N add N demo images: through the real pipeline for small N, drawn "
        "and written straight to the database and S3 for large N."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=0, help="images to add")
        parser.add_argument("--user", default="", help="the member who owns them (default demo)")
        parser.add_argument(
            "--members", type=int, default=0, help="spread them over member01..memberNN instead"
        )
        path = parser.add_mutually_exclusive_group()
        path.add_argument("--fast", action="store_true", help="always draw them here")
        path.add_argument("--pipeline", action="store_true", help="always use the pipeline")
        parser.add_argument(
            "--rows-only",
            action="store_true",
            help="fast path without pictures: rows with random keys, nothing in S3 (benchmarks)",
        )

    def handle(self, *args, count, user, members, fast, pipeline, rows_only, **options):
        if count < 0 or members < 0:
            raise CommandError("--count and --members must not be negative.")
        if not user and not members:
            self._demo_user()
        if not count:
            return
        users = self._owners(user or "demo", members)
        use_pipeline = pipeline or (not fast and not rows_only and count <= PIPELINE_MAX)
        bar = ProgressBar(count, self.stderr)
        if use_pipeline:
            if len(users) > 1:
                raise CommandError("--pipeline makes images for one member: use --user.")
            made = demo.seed_through_pipeline(users[0], count, progress=bar.advance)
        else:
            made = demo.seed_fast(users, count, progress=bar.advance, upload=not rows_only)
        bar.done()
        how = "through the pipeline" if use_pipeline else "drawn straight into the gallery"
        self.stdout.write(f"Added {made} demo images {how}.")

    def _demo_user(self):
        if not settings.DEBUG:
            raise CommandError("seed_demo only runs with DEBUG=1: it creates a known password.")
        user, created = get_user_model().objects.get_or_create(
            username="demo", defaults={"email": "demo@example.test"}
        )
        user.is_staff = True
        user.is_superuser = True
        user.set_password(settings.DEMO_PASSWORD)
        user.save()
        self.stdout.write(
            f"Demo login: user demo, password {settings.DEMO_PASSWORD} "
            f"({'created' if created else 'updated'})"
        )

    def _owners(self, name: str, members: int) -> list:
        model = get_user_model()
        names = [f"member{n:02d}" for n in range(1, members + 1)] if members else [name]
        owners = []
        for username in names:
            owner, created = model.objects.get_or_create(username=username)
            if created:
                owner.set_unusable_password()  # demo members cannot log in
                owner.save()
            owners.append(owner)
        return owners


class ProgressBar:
    """A one-line progress bar on stderr: `[#####.....] 512/1000`."""

    def __init__(self, total: int, stream, width: int = 30):
        self.total, self.stream, self.width, self.count = total, stream, width, 0

    def advance(self, n: int) -> None:
        self.count += n
        filled = int(self.width * min(self.count, self.total) / max(self.total, 1))
        bar = "#" * filled + "." * (self.width - filled)
        end = "\r" if getattr(sys.stderr, "isatty", lambda: False)() else "\n"
        self.stream.write(f"[{bar}] {self.count}/{self.total}", ending=end)

    def done(self) -> None:
        self.stream.write("")
