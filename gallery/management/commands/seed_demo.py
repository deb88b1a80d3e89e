"""Create the demo staff login for local stacks (DEBUG only)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create or refresh the staff user `demo` (password from DEMO_PASSWORD, default demo)."

    def handle(self, *args, **options):
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
