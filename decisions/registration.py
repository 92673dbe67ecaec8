"""Registering model versions and retiring them: the registry's write paths.

A version is registered only after its artifact loads, fits its feature schema and background,
and gives as many classes as its output semantics name. Each write commits with its audit event.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.db import transaction

from audit.models import Action
from audit.services import Actor, audit_record, canonical_sha256
from config.errors import ApplicationError

from .models import DecisionModel, ModelVersion
from .predictors import ArtifactError, dump_background, load_background, load_predictor, sha256
from .schema import FeatureSchema, SchemaError

# What the data subject is told (GDPR Art. 13(2)(f), 14(2)(g), 15(1)(h)).
SUBJECT_TEXT_FIELDS = ("controller", "purpose", "significance", "consequences", "legal_basis", "contact")


def _check_output(output: Any) -> dict:
    if not isinstance(output, dict):
        raise ApplicationError("invalid output semantics", fields={"output": "must be an object"})
    errors = {}
    if output.get("type") not in ("binary", "multiclass"):
        errors["type"] = "must be 'binary' or 'multiclass'"
    labels = output.get("class_labels")
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) for x in labels):
        errors["class_labels"] = "must list at least two class labels"
    elif output.get("type") == "binary" and len(labels) != 2:
        errors["class_labels"] = "a binary model has exactly two labels: [negative, positive]"
    favourable = output.get("favourable_label")
    if favourable is not None and isinstance(labels, list) and favourable not in labels:
        errors["favourable_label"] = "must be one of class_labels (or null)"
    threshold = output.get("threshold", 0.5)
    if not isinstance(threshold, int | float) or not 0 < threshold < 1:
        errors["threshold"] = "must be a number between 0 and 1"
    if errors:
        raise ApplicationError("invalid output semantics", fields={"output": errors})
    return output


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
) -> ModelVersion:
    """Register a model version after proving its artifact loads and fits its schema."""
    if framework not in ModelVersion.Framework.values:
        raise ApplicationError(
            "unsupported framework", fields={"framework": f"must be one of {ModelVersion.Framework.values}"}
        )
    if explainer not in ModelVersion.ExplainerMethod.values:
        raise ApplicationError(
            "unknown explainer", fields={"explainer": f"must be one of {ModelVersion.ExplainerMethod.values}"}
        )
    try:
        parsed = FeatureSchema.from_dict(schema)
    except SchemaError as exc:
        raise ApplicationError("invalid feature schema", fields={"schema": str(exc)}) from None
    _check_output(output)
    training = dict(training or {})
    try:
        predictor = load_predictor(framework, artifact, input_shape=training.get("input_shape"))
        background_bytes = background if isinstance(background, bytes) else dump_background(background)
        background_array = load_background(background_bytes)
    except ArtifactError as exc:
        raise ApplicationError("artifact rejected", fields={"artifact": str(exc)}) from None
    width = len(parsed.columns)
    if predictor.n_columns != width:
        raise ApplicationError(
            "schema does not match the model",
            fields={"schema": f"encodes {width} model columns but the model takes {predictor.n_columns}"},
        )
    if background_array.shape[1] != width:
        raise ApplicationError(
            "background does not match the schema",
            fields={"background": f"has {background_array.shape[1]} columns, expected {width}"},
        )
    n_classes = predictor.predict_proba(background_array[:1]).shape[1]
    if n_classes != len(output["class_labels"]):
        raise ApplicationError(
            "output semantics do not match the model",
            fields={
                "output": f"model gives {n_classes} classes, class_labels lists {len(output['class_labels'])}"
            },
        )
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
    version_obj = ModelVersion.objects.create(
        model=model,
        version=version,
        framework=framework,
        explainer=explainer,
        artifact=artifact,
        artifact_sha256=sha256(artifact),
        feature_schema=parsed.to_dict(),
        output=output,
        background=background_bytes,
        background_sha256=sha256(background_bytes),
        training=training,
        retention_days=retention_days or minimum_retention,
        registered_by=f"{actor.type}:{actor.id}",
        **{k: str(texts.get(k, "")) for k in SUBJECT_TEXT_FIELDS},
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
    return version_obj


@transaction.atomic
def model_version_set_status(*, version: ModelVersion, status: str, actor: Actor) -> ModelVersion:
    if status not in ModelVersion.Status.values:
        raise ApplicationError(
            "unknown status", fields={"status": f"must be one of {ModelVersion.Status.values}"}
        )
    version.status = status
    version.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action=Action.MODEL_STATUS_CHANGED,
        object_type="model_version",
        object_id=version.pk,
        data={"status": status},
    )
    return version
