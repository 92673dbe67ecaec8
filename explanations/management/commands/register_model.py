import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from audit.services import Actor
from config.errors import ApplicationError
from decisions.models import ModelVersion
from decisions.referral import referral_rules_set
from decisions.registration import model_register
from explanations.vetting import model_version_check


def _json(path: str | None) -> dict:
    if not path:
        return {}
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CommandError(f"{path}: {exc}") from None


class Command(BaseCommand):
    help = (
        "Register a model version from files (artifact, background .npy, schema and output JSON) "
        "and run its registration checks in a sandboxed process. The model's first version that "
        "passes becomes its default; later ones stay candidates until `promote_model`."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("version")
        parser.add_argument("--framework", required=True, choices=ModelVersion.Framework.values)
        parser.add_argument("--artifact", help="the model file (none for an external scorer)")
        parser.add_argument("--background", help=".npy array, rows x model columns (optional for external)")
        parser.add_argument("--schema", required=True, help="feature schema JSON file")
        parser.add_argument("--output", required=True, help="output semantics JSON file")
        parser.add_argument("--texts", help="subject texts JSON file")
        parser.add_argument("--training", help="training metadata JSON file")
        parser.add_argument("--explainer", default="auto", choices=ModelVersion.ExplainerMethod.values)
        parser.add_argument("--referral", help="referral rules JSON file (docs/referrals.md)")
        parser.add_argument(
            "--no-wait",
            action="store_true",
            help="queue the checks for a worker instead of running them here",
        )

    def handle(self, *args, **o):
        actor = Actor.system("manage.py")
        try:
            # The rules are checked against the version: bad rules register nothing.
            with transaction.atomic():
                version = self._register(o, actor)
                if o["referral"]:
                    version = referral_rules_set(version=version, rules=_json(o["referral"]), actor=actor)
        except OSError as exc:
            raise CommandError(str(exc)) from None
        except ApplicationError as exc:
            raise CommandError(f"{exc.message}: {json.dumps(exc.fields)}") from None
        self._report(version, o, actor)

    def _register(self, o, actor):
        return model_register(
            name=o["name"],
            version=o["version"],
            framework=o["framework"],
            artifact=Path(o["artifact"]).read_bytes() if o["artifact"] else b"",
            background=Path(o["background"]).read_bytes() if o["background"] else b"",
            schema=_json(o["schema"]),
            output=_json(o["output"]),
            texts=_json(o["texts"]),
            training=_json(o["training"]),
            explainer=o["explainer"],
            actor=actor,
            queue_checks=o["no_wait"],
        )

    def _report(self, version, o, actor):
        self.stdout.write(f"registered {version} sha256={version.artifact_sha256}")
        if o["no_wait"]:
            self.stdout.write("its checks are queued for a worker")
            return
        version = model_version_check(version_id=version.pk, actor=actor)
        checks = version.checks
        if checks["state"] != "passed":
            raise CommandError(f"{version} rejected: " + "; ".join(checks["reasons"]))
        report = checks.get("report", {})
        is_default = version.model.default_version_id == version.pk
        self.stdout.write(
            self.style.SUCCESS(
                f"{version} passed its checks ({report.get('method', 'supplied')}, additivity error "
                f"{report.get('max_additivity_error', 0):.2g}): "
                + (
                    "active, the model's default"
                    if is_default
                    else "a candidate: promote it with promote_model"
                )
            )
        )
