from django.core.management.base import BaseCommand, CommandError

from audit.services import Actor
from config.errors import ApplicationError
from decisions.accounts import api_key_create


class Command(BaseCommand):
    help = "Create an API key for an integrating system and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        try:
            _, raw = api_key_create(name=name, actor=Actor.system("manage.py"))
        except ApplicationError as exc:
            raise CommandError(f"{exc.message}: {exc.fields}") from None
        self.stdout.write(raw)
