import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.services import Actor
from config.errors import ApplicationError
from decisions.models import ModelVersion
from decisions.registration import model_register


def _json(path: str | None) -> dict:
    if not path:
        return {}
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CommandError(f"{path}: {exc}") from None


class Command(BaseCommand):
    help = "Register a model version from files: artifact, background (.npy), schema and output JSON."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("version")
        parser.add_argument("--framework", required=True, choices=ModelVersion.Framework.values)
        parser.add_argument("--artifact", required=True)
        parser.add_argument("--background", required=True, help=".npy array, rows x model columns")
        parser.add_argument("--schema", required=True, help="feature schema JSON file")
        parser.add_argument("--output", required=True, help="output semantics JSON file")
        parser.add_argument("--texts", help="subject texts JSON file")
        parser.add_argument("--training", help="training metadata JSON file")
        parser.add_argument("--explainer", default="auto", choices=ModelVersion.ExplainerMethod.values)

    def handle(self, *args, **o):
        try:
            version = model_register(
                name=o["name"],
                version=o["version"],
                framework=o["framework"],
                artifact=Path(o["artifact"]).read_bytes(),
                background=Path(o["background"]).read_bytes(),
                schema=_json(o["schema"]),
                output=_json(o["output"]),
                texts=_json(o["texts"]),
                training=_json(o["training"]),
                explainer=o["explainer"],
                actor=Actor.system("manage.py"),
            )
        except OSError as exc:
            raise CommandError(str(exc)) from None
        except ApplicationError as exc:
            raise CommandError(f"{exc.message}: {json.dumps(exc.fields)}") from None
        self.stdout.write(self.style.SUCCESS(f"registered {version} sha256={version.artifact_sha256}"))
