"""`manage.py create_api_token USERNAME --name NAME`: a new personal API token, printed alone
on the last line (a fixed point: scripts read that line)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from gallery.services import api_tokens


class Command(BaseCommand):
    help = "Create a personal API token for a member and print it (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="what the token is for")

    def handle(self, *args, username, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no member named {username!r}")
        if not user.is_active:
            raise CommandError(f"{username!r} is not active: the token would be refused")
        try:
            token, raw = api_tokens.create(user=user, name=name)
        except api_tokens.TokenNameError as exc:
            raise CommandError(exc.message) from None
        self.stderr.write(f"Token {token.name!r} for {username} (shown once; store it now):")
        self.stdout.write(raw)
