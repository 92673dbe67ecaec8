"""Registering model versions and recording their checks' verdict: the registry's write paths.

A version is registered as a `candidate` once its documents are well formed; its artifact is
never loaded here. Its registration checks (explanations/vetting.py) then run in a sandboxed
process and end in `model_version_checked`: `rejected` with every reason named, or passed. A
model's first version that passes becomes `active` and the model's default; later versions stay
candidates until an explicit, audited promote (lifecycle.py). Each write commits with its
audit event.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import Action
from audit.services import Actor, audit_record, canonical_sha256
from config.errors import ApplicationError

from .models import DecisionModel, ModelVersion
from .predictors import ArtifactError, dump_background, load_background, sha256
from .predictors.base import favourable_label
from .schema import FeatureSchema, SchemaError
from .translations import TEXT_FIELDS, text_translations_checked

# What the data subject is told (GDPR Art. 13(2)(f), 14(2)(g), 15(1)(h)).
logger = logging.getLogger(__name__)

SUBJECT_TEXT_FIELDS = TEXT_FIELDS
CHECK_TASK = "explanations.check_model_version"
OUTPUT_TYPES = ("binary", "multiclass", "regression")


def _check_output(output: Any) -> dict:
    """The output semantics, checked; a regression's favourable label is derived from
    `favourable_when`, so everything downstream reads one `favourable_label`."""
    if not isinstance(output, dict):
        raise ApplicationError("invalid output semantics", fields={"output": "must be an object"})
    errors = {}
    kind = output.get("type")
    if kind not in OUTPUT_TYPES:
        errors["type"] = f"must be one of {', '.join(OUTPUT_TYPES)}"
    labels = output.get("class_labels")
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) and x for x in labels):
        errors["class_labels"] = "must list at least two non-empty class labels"
    elif len(set(labels)) != len(labels):
        errors["class_labels"] = "must not repeat a label"
    elif kind == "binary" and len(labels) != 2:
        errors["class_labels"] = "a binary model has exactly two labels: [negative, positive]"
    elif kind == "regression" and len(labels) != 2:
        errors["class_labels"] = "a regression has exactly two labels: [below the threshold, at or above it]"
    threshold = output.get("threshold", 0.5 if kind == "binary" else None)
    if kind == "regression":
        if not _finite_number(threshold):
            errors["threshold"] = "a regression needs the cut-off its score is compared with (a number)"
        if output.get("favourable_when", "above") not in ("above", "below"):
            errors["favourable_when"] = "must be 'above' or 'below'"
        for text in ("score_meaning", "score_unit"):
            if not isinstance(output.get(text, ""), str) or len(output.get(text, "")) > 200:
                errors[text] = "must be a text of at most 200 characters"
        if "favourable_label" in output and output["favourable_label"] not in (None, *(labels or [])):
            errors["favourable_label"] = "is derived from favourable_when for a regression; leave it out"
    else:
        favourable = output.get("favourable_label")
        if favourable is not None and isinstance(labels, list) and favourable not in labels:
            errors["favourable_label"] = "must be one of class_labels (or null)"
        if kind == "binary" and not (_finite_number(threshold) and 0 < threshold < 1):
            errors["threshold"] = "must be a number between 0 and 1"
    if errors:
        raise ApplicationError("invalid output semantics", fields={"output": errors})
    if kind == "regression":
        output = {**output, "favourable_when": output.get("favourable_when", "above")}
        output["favourable_label"] = favourable_label(output)
    return output


def _finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@transaction.atomic
def model_register(
    *,
    name: str,
    version: str,
    framework: str,
    artifact: bytes,
    schema: dict,
    output: dict,
    background: np.ndarray | bytes,
    actor: Actor,
    training: dict | None = None,
    texts: dict | None = None,
    explainer: str = ModelVersion.ExplainerMethod.AUTO,
    description: str = "",
    retention_days: int | None = None,
    queue_checks: bool = True,
) -> ModelVersion:
    """Register a model version as a candidate whose checks are pending.

    The documents are checked here; the artifact is only sized and hashed, never loaded. With
    `queue_checks` the checks are queued for a worker after commit; without, the caller runs
    them (explanations.vetting.model_version_check). An external scorer has nothing to load:
    it passes its checks at once.
    """
    external = framework == ModelVersion.Framework.EXTERNAL
    _check_choices(framework, explainer, external)
    try:
        parsed = FeatureSchema.from_dict(schema)
    except SchemaError as exc:
        raise ApplicationError("invalid feature schema", fields={"schema": str(exc)}) from None
    # Counted from the declarations, before anything is made per column: a 200-byte schema
    # with a huge image shape must not make millions of column names.
    if parsed.width > settings.MODEL_MAX_COLUMNS:
        raise ApplicationError(
            "invalid feature schema",
            fields={
                "schema": f"encodes more than {settings.MODEL_MAX_COLUMNS:,} model columns (MODEL_MAX_COLUMNS)"
            },
        )
    output = _check_output(output)
    if external and output["type"] == "multiclass":
        raise ApplicationError(
            "invalid output semantics",
            fields={"output": {"type": "an external scorer sends one score: binary or regression"}},
        )
    _check_artifact(artifact, external)
    background_bytes = _checked_background(background, width=len(parsed.columns), required=not external)
    model, _ = DecisionModel.objects.get_or_create(name=name, defaults={"description": description})
    if model.versions.filter(version=version).exists():
        raise ApplicationError(
            "version already registered", fields={"version": f"{name}@{version} exists"}, status_code=409
        )
    minimum_retention = ModelVersion._meta.get_field("retention_days").default
    if retention_days is not None and retention_days < minimum_retention:
        raise ApplicationError(
            "retention too short", fields={"retention_days": f"must be at least {minimum_retention} days"}
        )
    texts = texts or {}
    try:
        text_translations = text_translations_checked(texts.get("translations"))
    except ValueError as exc:
        raise ApplicationError("invalid texts", fields={"texts": str(exc)}) from None
    version_obj = ModelVersion.objects.create(
        model=model,
        version=version,
        framework=framework,
        explainer=ModelVersion.ExplainerMethod.SUPPLIED if external else explainer,
        status=ModelVersion.Status.CANDIDATE,
        checks={"state": "pending", "reasons": [], "report": {}},
        artifact=artifact,
        artifact_sha256=sha256(artifact),
        feature_schema=parsed.to_dict(),
        output=output,
        background=background_bytes,
        background_sha256=sha256(background_bytes),
        training=dict(training or {}),
        retention_days=retention_days or minimum_retention,
        registered_by=f"{actor.type}:{actor.id}",
        **{k: str(texts.get(k, "")) for k in SUBJECT_TEXT_FIELDS},
        text_translations=text_translations,
    )
    audit_record(
        actor=actor,
        action=Action.MODEL_REGISTERED,
        object_type="model_version",
        object_id=version_obj.pk,
        data={
            "model": name,
            "version": version,
            "framework": framework,
            "artifact_sha256": version_obj.artifact_sha256,
            "background_sha256": version_obj.background_sha256,
            "schema_sha256": canonical_sha256(version_obj.feature_schema),
        },
    )
    if external:
        note = "an external scorer: nothing to load; each decision's contributions are checked when recorded"
        return model_version_checked(version=version_obj, reasons=[], report={"note": note}, actor=actor)
    if queue_checks:
        pk = version_obj.pk
        transaction.on_commit(lambda: _queue_checks(pk))
    return version_obj


def upload_read(upload: Any, *, limit: int) -> bytes:
    """At most `limit` + 1 bytes of an uploaded file: enough for model_register to refuse one
    over its limit by name, without reading a huge upload into memory."""
    return upload.read(limit + 1) if upload else b""


def _queue_checks(version_id: int) -> None:
    """Publish the checks after commit; with the broker down the version stays pending and the
    sweeper queues its checks once the broker is back (explanations.sweeper)."""
    try:
        current_app.send_task(CHECK_TASK, kwargs={"model_version_id": version_id})
    except Exception:  # noqa: BLE001 - kombu raises many types for an unreachable broker
        logger.warning("registration checks of model version %s not queued: broker unavailable", version_id)


def _check_choices(framework: str, explainer: str, external: bool) -> None:
    if framework not in ModelVersion.Framework.values:
        raise ApplicationError(
            "unsupported framework", fields={"framework": f"must be one of {ModelVersion.Framework.values}"}
        )
    if explainer not in ModelVersion.ExplainerMethod.values:
        raise ApplicationError(
            "unknown explainer", fields={"explainer": f"must be one of {ModelVersion.ExplainerMethod.values}"}
        )
    supplied = explainer == ModelVersion.ExplainerMethod.SUPPLIED
    if external and explainer not in ("auto", "supplied"):
        raise ApplicationError(
            "unknown explainer",
            fields={"explainer": "an external scorer's explanation is supplied with each decision"},
        )
    if supplied and not external:
        raise ApplicationError(
            "unknown explainer",
            fields={"explainer": "'supplied' is for external scorers; Rationale explains uploaded models"},
        )


def _check_artifact(artifact: bytes, external: bool) -> None:
    if external:
        if artifact:
            raise ApplicationError(
                "artifact rejected",
                fields={"artifact": "an external scorer is not uploaded: send no artifact"},
            )
        return
    if not artifact:
        raise ApplicationError("artifact rejected", fields={"artifact": "is empty"})
    if len(artifact) > settings.MODEL_ARTIFACT_MAX_BYTES:
        raise ApplicationError(
            "artifact rejected",
            fields={
                "artifact": f"is larger than {settings.MODEL_ARTIFACT_MAX_BYTES:,} bytes (MODEL_ARTIFACT_MAX_BYTES)"
            },
            status_code=413,
        )


def _checked_background(background: np.ndarray | bytes | None, *, width: int, required: bool) -> bytes:
    """The background as .npy bytes, with the schema's width and a bounded size."""
    if background is None or (isinstance(background, bytes) and not background):
        if required:
            raise ApplicationError("background rejected", fields={"background": "is required"})
        return b""
    if isinstance(background, bytes) and len(background) > settings.MODEL_BACKGROUND_MAX_BYTES:
        raise ApplicationError(
            "background rejected",
            fields={
                "background": f"is larger than {settings.MODEL_BACKGROUND_MAX_BYTES:,} bytes "
                "(MODEL_BACKGROUND_MAX_BYTES)"
            },
            status_code=413,
        )
    try:
        background_bytes = background if isinstance(background, bytes) else dump_background(background)
        array = load_background(background_bytes)
    except ArtifactError as exc:
        raise ApplicationError("background rejected", fields={"background": str(exc)}) from None
    if array.shape[1] != width:
        raise ApplicationError(
            "background does not match the schema",
            fields={"background": f"has {array.shape[1]} columns, the schema encodes {width}"},
        )
    if not 1 <= array.shape[0] <= settings.MODEL_BACKGROUND_MAX_ROWS:
        raise ApplicationError(
            "background rejected",
            fields={
                "background": f"needs 1 to {settings.MODEL_BACKGROUND_MAX_ROWS} rows, has {array.shape[0]}"
            },
        )
    if not np.isfinite(array).all():
        raise ApplicationError("background rejected", fields={"background": "holds NaN or infinity"})
    return background_bytes


@transaction.atomic
def model_version_checked(
    *, version: ModelVersion, reasons: list[str], report: dict, actor: Actor
) -> ModelVersion:
    """Record the registration checks' verdict. Passed: a model with no default gets this
    version as its default, active; otherwise it stays a candidate until promoted. Failed:
    `rejected`, with every reason."""
    version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
    if version.checks.get("state") != "pending":
        return version  # a redelivered check task: the verdict stands
    passed = not reasons
    version.checks = {
        "state": "passed" if passed else "failed",
        "reasons": list(reasons),
        "report": report,
        "checked_at": timezone.now().isoformat(),
    }
    model = DecisionModel.objects.select_for_update().get(pk=version.model_id)
    becomes_default = passed and model.default_version_id is None
    if not passed:
        version.status = ModelVersion.Status.REJECTED
    elif becomes_default:
        version.status = ModelVersion.Status.ACTIVE
    version.save(update_fields=["checks", "status", "updated_at"])
    if becomes_default:
        model.default_version = version
        model.save(update_fields=["default_version", "updated_at"])
    version.model = model
    audit_record(
        actor=actor,
        action=Action.MODEL_CHECKED,
        object_type="model_version",
        object_id=version.pk,
        data={
            "passed": passed,
            "reasons": list(reasons),
            "status": version.status,
            "default": becomes_default,
        },
    )
    return version
