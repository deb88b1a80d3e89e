"""Check that the database, Redis and S3 answer; one clear line per service that does not."""

import time

from django.core.management.base import BaseCommand, CommandError

from gallery.health import CHECKS


class Command(BaseCommand):
    help = "Exit non-zero, naming each unreachable service, unless DB, Redis and S3 answer."

    def add_arguments(self, parser):
        parser.add_argument("--wait", type=float, default=0, help="seconds to keep trying")
        parser.add_argument("services", nargs="*", help=f"any of {', '.join(CHECKS)}; default all")

    def handle(self, *args, wait: float, services: list[str], **options):
        unknown = sorted(set(services) - set(CHECKS))
        if unknown:
            raise CommandError(
                f"unknown service {', '.join(unknown)}: choose from {', '.join(CHECKS)}"
            )
        names = services or list(CHECKS)
        deadline = time.monotonic() + wait
        while True:
            problems = [p for p in (CHECKS[name]() for name in names) if p]
            if not problems or time.monotonic() >= deadline:
                break
            time.sleep(0.3)
        if problems:
            raise CommandError("\n".join(problems))
        self.stdout.write(f"reachable: {', '.join(names)}")
