import getpass

from django.core.management.base import BaseCommand, CommandError

from audit.services import Actor
from config.errors import ApplicationError
from decisions.auth import ROLES
from decisions.services import user_create


class Command(BaseCommand):
    help = "Create a caseworker or auditor account."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument("--password", help="prompted for when omitted")
        parser.add_argument("--email", default="")

    def handle(self, *args, username, role, password, email, **options):
        if not password:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("passwords do not match")
        try:
            user_create(
                username=username, role=role, password=password, email=email, actor=Actor.system("manage.py")
            )
        except ApplicationError as exc:
            raise CommandError(f"{exc.message}: {exc.fields}") from None
        self.stdout.write(self.style.SUCCESS(f"created {role} {username}"))
