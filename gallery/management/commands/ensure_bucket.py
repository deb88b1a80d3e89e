"""Create the private media bucket when it is missing (the dev stack and compose call it)."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from gallery.storage import ensure_bucket


class Command(BaseCommand):
    help = "Create the S3 bucket named by AWS_STORAGE_BUCKET_NAME when it is missing."

    def add_arguments(self, parser):
        parser.add_argument(
            "--wait", type=float, default=0, help="seconds to keep trying while S3 starts"
        )

    def handle(self, *args, wait: float, **options):
        deadline = time.monotonic() + wait
        while True:
            try:
                created = ensure_bucket()
                break
            except Exception as exc:
                if time.monotonic() >= deadline:
                    raise CommandError(
                        f"S3 at {settings.AWS_S3_ENDPOINT_URL} is unreachable "
                        f"({str(exc).splitlines()[0][:160]}): start SeaweedFS or fix "
                        "AWS_S3_ENDPOINT_URL / AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."
                    ) from None
                time.sleep(0.3)
        bucket = settings.AWS_STORAGE_BUCKET_NAME
        self.stdout.write(f"bucket {bucket!r} {'created' if created else 'already exists'}")
