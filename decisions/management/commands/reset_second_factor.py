from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from audit.services import Actor
from decisions.second_factor import second_factor_remove


class Command(BaseCommand):
    help = "Remove a user's authenticator app (a lost phone): they set up a new one at their next sign-in."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        removed = second_factor_remove(user=user, actor=Actor.system("manage.py"))
        self.stdout.write(self.style.SUCCESS(f"removed {removed} authenticator(s) of {username}"))
