import json

from django.core.management.base import BaseCommand, CommandError

from audit.services import Actor
from config.errors import ApplicationError
from decisions.lifecycle import model_version_promote, model_version_set_shadow, model_version_set_status
from decisions.models import ModelVersion


class Command(BaseCommand):
    help = (
        "Make a model version the model's default (audited), or start/stop its shadow run, or "
        "retire it. Requests without `model_version` use the default."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("version")
        action = parser.add_mutually_exclusive_group()
        action.add_argument(
            "--shadow", choices=["on", "off"], help="score beside the default without deciding"
        )
        action.add_argument("--retire", action="store_true")

    def handle(self, *args, **o):
        try:
            version = ModelVersion.objects.select_related("model").get(
                model__name=o["name"], version=o["version"]
            )
        except ModelVersion.DoesNotExist:
            raise CommandError(f"{o['name']}@{o['version']} is not registered") from None
        actor = Actor.system("manage.py")
        try:
            if o["shadow"]:
                model_version_set_shadow(version=version, enabled=o["shadow"] == "on", actor=actor)
                done = f"shadow {o['shadow']}"
            elif o["retire"]:
                model_version_set_status(version=version, status="retired", actor=actor)
                done = "retired"
            else:
                model_version_promote(version=version, actor=actor)
                done = "now the model's default"
        except ApplicationError as exc:
            raise CommandError(f"{exc.message}: {json.dumps(exc.fields)}") from None
        self.stdout.write(self.style.SUCCESS(f"{version}: {done}"))
