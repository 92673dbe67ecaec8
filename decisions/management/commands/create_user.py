import getpass
import sys

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from audit.services import Actor
from config.errors import ApplicationError
from decisions.accounts import user_create
from decisions.auth import ROLES


class Command(BaseCommand):
    help = "Create a caseworker or auditor account."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument("--password", help="asked for (twice) when omitted, in a terminal")
        parser.add_argument("--email", default="")

    def handle(self, *args, username, role, password, email, **options):
        User = get_user_model()
        # Before asking for a password that could not be used.
        if User.objects.filter(username=username).exists():
            raise CommandError(f"username {username!r} is taken")
        if not password:
            if not sys.stdin.isatty():
                raise CommandError(
                    "no password: pass --password, or run this in a terminal to be asked for one"
                )
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("passwords do not match")
        # The same rules as a password set anywhere else (AUTH_PASSWORD_VALIDATORS).
        try:
            password_validation.validate_password(password, user=User(username=username, email=email))
        except ValidationError as exc:
            raise CommandError("password refused: " + " ".join(exc.messages)) from None
        try:
            user_create(
                username=username, role=role, password=password, email=email, actor=Actor.system("manage.py")
            )
        except ApplicationError as exc:
            raise CommandError(f"{exc.message}: {exc.fields}") from None
        self.stdout.write(self.style.SUCCESS(f"created {role} {username}"))
