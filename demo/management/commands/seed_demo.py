"""Load the demo: the German-credit XGBoost model, the digits CNN, sample decisions, demo logins.

Safe to run twice: every step checks what is already there and adds nothing the second time.
"""

from datetime import timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from audit.services import Actor
from decisions.accounts import api_key_create, user_create
from decisions.credentials import secret_hash
from decisions.models import ApiKey, Decision, ModelVersion
from decisions.recording import DecisionInput
from decisions.referral import referral_rules_set
from decisions.registration import model_register
from decisions.schema import FeatureSchema
from demo import credit, credit_linear, digits
from explanations.recording import decision_record_many
from explanations.vetting import model_version_check

ACTOR = Actor.system("seed_demo")
DEMO_PASSWORD = "rationale-demo"  # noqa: S105 - published demo logins, created only by this command
CREDIT_DECISIONS = 200  # the held-out applicants: the model never saw them
DIGIT_DECISIONS = 40
# The sample decisions are spread over this many past weeks, so that the drift page has weekly
# windows to compare.
SPREAD_WEEKS = 6


class Command(BaseCommand):
    help = "Register the demo models and record sample decisions (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--api-key-file", help="keep the demo API key here (created once)")
        parser.add_argument(
            "--links-file",
            default="var/demo-subject-links.txt",
            help="where to write subject access links of the sample decisions",
        )
        parser.add_argument("--no-users", action="store_true", help="do not create the demo logins")
        parser.add_argument("--credit-decisions", type=int, default=CREDIT_DECISIONS)
        parser.add_argument("--digit-decisions", type=int, default=DIGIT_DECISIONS)

    def handle(self, *args, **options):
        links: list[str] = []
        for module, count, prefix in (
            (credit, options["credit_decisions"], "credit"),
            (credit_linear, options["credit_decisions"] // 4, "credit-linear"),
            (digits, options["digit_decisions"], "digit"),
        ):
            links += self._load(module, count, prefix)
        if links and options["links_file"]:
            path = Path(options["links_file"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(links) + "\n")
            self.stdout.write(f"subject access links written to {path}")
        if not options["no_users"]:
            self._users()
        if options["api_key_file"]:
            self._api_key(Path(options["api_key_file"]))

    def _load(self, module, count: int, prefix: str) -> list[str]:
        version = ModelVersion.objects.filter(model__name=module.NAME, version=module.VERSION).first()
        recorded = (
            version is not None
            and Decision.objects.filter(
                model_version=version, reference__startswith=f"demo-{prefix}-"
            ).exists()
        )
        if recorded:
            self.stdout.write(f"{version} and its sample decisions are already loaded")
            if version.feature_schema != FeatureSchema.from_dict(module.SCHEMA).to_dict():
                self.stdout.write(
                    self.style.WARNING(
                        f"{version} was loaded by an older demo with another schema; to load this "
                        "one, start from an empty var directory (make clean)"
                    )
                )
            return []
        # Training is deterministic and takes seconds; the held-out rows come with it.
        self.stdout.write(f"training {module.NAME}@{module.VERSION} ...")
        trained = module.train()
        if version is None:
            version = self._register(trained)
            if getattr(module, "REFERRAL_RULES", None):
                version = referral_rules_set(version=version, rules=module.REFERRAL_RULES, actor=ACTOR)
        return self._sample_decisions(version, trained.sample_rows[:count], prefix)

    def _register(self, trained) -> ModelVersion:
        registered = model_register(
            name=trained.name,
            version=trained.version,
            framework=trained.framework,
            artifact=trained.artifact,
            schema=trained.schema,
            output=trained.output,
            background=trained.background,
            training=trained.training,
            texts=trained.subject_texts,
            explainer=trained.explainer,
            actor=ACTOR,
            queue_checks=False,
        )
        # The checks run here, in their sandboxed process: the demo's models decide at once.
        registered = model_version_check(version_id=registered.pk, actor=ACTOR)
        if registered.checks["state"] != "passed":
            raise CommandError(f"{registered} failed its registration checks: {registered.checks['reasons']}")
        self.stdout.write(self.style.SUCCESS(f"registered {registered} ({trained.training.get('metrics')})"))
        return registered

    def _sample_decisions(self, version: ModelVersion, rows: list[dict], prefix: str) -> list[str]:
        if not rows:
            return []
        items = [
            DecisionInput(
                model=version.model.name,
                model_version=version.version,
                features=row,
                subject_ref=f"demo-{prefix}-subject-{i:04d}",
                reference=f"demo-{prefix}-{i:04d}",
            )
            for i, row in enumerate(rows)
        ]
        # One transaction: the decisions are only ever there already spread, and the worker
        # is sent their explanations after commit.
        with transaction.atomic():
            recorded = decision_record_many(items=items, actor=ACTOR)
            _spread_over_weeks([r.decision for r in recorded], now=timezone.now())
        self.stdout.write(self.style.SUCCESS(f"recorded {len(recorded)} sample decisions of {version}"))
        return [f"{r.decision.reference} {r.decision.outcome}: {r.subject_access_url}" for r in recorded]

    def _users(self) -> None:
        User = get_user_model()
        for username, role in (("casey", "caseworker"), ("audrey", "auditor")):
            if not User.objects.filter(username=username).exists():
                user_create(username=username, role=role, password=DEMO_PASSWORD, actor=ACTOR)
                self.stdout.write(f"created {role} {username}")
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.org", DEMO_PASSWORD)
            self.stdout.write("created superuser admin")

    @transaction.atomic
    def _api_key(self, path: Path) -> None:
        if path.exists():
            raw = path.read_text().strip()
            if ApiKey.objects.filter(key_hash=secret_hash(raw), revoked_at__isnull=True).exists():
                return
        _, raw = api_key_create(name="demo", actor=ACTOR)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(raw + "\n")
        path.chmod(0o600)
        self.stdout.write(f"demo API key written to {path}")


def _spread_over_weeks(decisions: list[Decision], *, now) -> None:
    """Date the sample decisions evenly over the past SPREAD_WEEKS weeks, oldest first, as if
    they had come in over that time. Their audit events keep the time they were really
    recorded: the log says when the demo was loaded."""
    span = timedelta(weeks=SPREAD_WEEKS)
    for position, decision in enumerate(decisions):
        decision.decided_at = now - span * (len(decisions) - 1 - position) / len(decisions)
    Decision.objects.bulk_update(decisions, ["decided_at"], batch_size=500)
