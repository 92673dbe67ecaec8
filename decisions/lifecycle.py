"""A registered version's life after its checks: promotion to the model's default, shadow runs
beside it, retirement, suspension after it crashed worker processes. Each write commits with its
audit event."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F

from audit.models import Action
from audit.services import Actor, audit_record
from config.errors import ApplicationError

from .models import DecisionModel, ModelVersion

logger = logging.getLogger(__name__)


def _refuse_suspended(version: ModelVersion, what: str) -> None:
    if version.status == ModelVersion.Status.SUSPENDED:
        raise ApplicationError(
            f"version cannot be {what}",
            fields={
                "status": f"it is suspended: explaining it crashed worker processes {version.crashes} times"
            },
            status_code=409,
        )


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
    _refuse_suspended(version, "promoted")
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
    if status == ModelVersion.Status.ACTIVE:
        _refuse_suspended(version, "activated")
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


@transaction.atomic
def model_version_crashed(*, version_id: int, lost_batches: int, actor: Actor) -> ModelVersion | None:
    """Count batches of this version whose worker process died while explaining them (the
    sweeper found their claims stale); at settings.MODEL_CRASH_LIMIT the version is suspended.
    The version, or None if it is gone."""
    updated = ModelVersion.objects.filter(pk=version_id).update(crashes=F("crashes") + lost_batches)
    if not updated:
        return None
    version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version_id)
    logger.warning(
        "model version %s lost %s batch(es) with its worker: %s crashes",
        version,
        lost_batches,
        version.crashes,
    )
    if version.crashes >= settings.MODEL_CRASH_LIMIT and version.status != ModelVersion.Status.SUSPENDED:
        version = model_version_suspend(version=version, reason=crash_reason(version), actor=actor)
    return version


def crash_reason(version: ModelVersion) -> str:
    return (
        f"explaining {version.model.name}@{version.version} crashed worker processes {version.crashes} "
        f"times (MODEL_CRASH_LIMIT is {settings.MODEL_CRASH_LIMIT})"
    )


@transaction.atomic
def model_version_suspend(*, version: ModelVersion, reason: str, actor: Actor) -> ModelVersion:
    """Take a version out of service for good: it decides nothing, runs in no shadow, and no
    worker explains it again (explanations.drain, explanations.sweeper). Register a fixed model
    as a new version."""
    version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
    if version.status == ModelVersion.Status.SUSPENDED:
        return version
    previous = version.status
    version.status = ModelVersion.Status.SUSPENDED
    version.shadow = False
    version.save(update_fields=["status", "shadow", "updated_at"])
    audit_record(
        actor=actor,
        action=Action.MODEL_STATUS_CHANGED,
        object_type="model_version",
        object_id=version.pk,
        data={"status": version.status, "previous": previous, "reason": reason, "crashes": version.crashes},
    )
    return version
