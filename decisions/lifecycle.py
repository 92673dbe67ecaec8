"""A registered version's life after its checks: promotion to the model's default, shadow runs
beside it, retirement. Each write commits with its audit event."""

from __future__ import annotations

from django.db import transaction

from audit.models import Action
from audit.services import Actor, audit_record
from config.errors import ApplicationError

from .models import DecisionModel, ModelVersion


@transaction.atomic
def model_version_promote(*, version: ModelVersion, actor: Actor) -> ModelVersion:
    """Make a version that passed its checks the model's default: requests without
    `model_version` use it from now on. The previous default stays active for requests that
    name it, until retired."""
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if version.checks.get("state") != "passed":
        state = version.checks.get("state", "pending")
        raise ApplicationError(
            "version cannot be promoted",
            fields={
                "status": f"its registration checks have {'failed' if state == 'failed' else 'not passed yet'}"
            },
            status_code=409,
        )
    if version.status == ModelVersion.Status.RETIRED:
        raise ApplicationError(
            "version cannot be promoted", fields={"status": "it is retired"}, status_code=409
        )
    model = DecisionModel.objects.select_for_update().get(pk=version.model_id)
    previous = model.default_version_id
    version.status = ModelVersion.Status.ACTIVE
    version.shadow = False
    version.save(update_fields=["status", "shadow", "updated_at"])
    model.default_version = version
    model.save(update_fields=["default_version", "updated_at"])
    version.model = model
    audit_record(
        actor=actor,
        action=Action.MODEL_PROMOTED,
        object_type="model_version",
        object_id=version.pk,
        data={"model": model.name, "version": version.version, "previous_default": previous},
    )
    return version


@transaction.atomic
def model_version_set_shadow(*, version: ModelVersion, enabled: bool, actor: Actor) -> ModelVersion:
    """Start or stop scoring a candidate beside its model's default on live decisions."""
    version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
    if enabled and (
        version.status != ModelVersion.Status.CANDIDATE or version.checks.get("state") != "passed"
    ):
        raise ApplicationError(
            "version cannot run in shadow",
            fields={"shadow": "only a candidate that passed its registration checks runs in shadow"},
            status_code=409,
        )
    if enabled and version.framework == ModelVersion.Framework.EXTERNAL:
        raise ApplicationError(
            "version cannot run in shadow", fields={"shadow": "an external scorer cannot be run by Rationale"}
        )
    version.shadow = enabled
    version.save(update_fields=["shadow", "updated_at"])
    audit_record(
        actor=actor,
        action=Action.MODEL_SHADOW_CHANGED,
        object_type="model_version",
        object_id=version.pk,
        data={"shadow": enabled},
    )
    return version


@transaction.atomic
def model_version_set_status(*, version: ModelVersion, status: str, actor: Actor) -> ModelVersion:
    """Retire a version, or bring a retired one that passed its checks back to active. The
    default cannot be retired: promote another version first."""
    if status not in (ModelVersion.Status.ACTIVE, ModelVersion.Status.RETIRED):
        raise ApplicationError("unknown status", fields={"status": "must be 'active' or 'retired'"})
    version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
    if status == ModelVersion.Status.RETIRED and version.model.default_version_id == version.pk:
        raise ApplicationError(
            "version cannot be retired",
            fields={"status": "it is the model's default: promote another version first"},
            status_code=409,
        )
    if status == ModelVersion.Status.ACTIVE and version.checks.get("state") != "passed":
        raise ApplicationError(
            "version cannot be activated",
            fields={"status": "its registration checks have not passed"},
            status_code=409,
        )
    version.status = status
    version.shadow = False
    version.save(update_fields=["status", "shadow", "updated_at"])
    audit_record(
        actor=actor,
        action=Action.MODEL_STATUS_CHANGED,
        object_type="model_version",
        object_id=version.pk,
        data={"status": status},
    )
    return version
