"""The model registry as the hot path reads it: which version a decision uses, its parsed schema
and its loaded predictor, each cached.

A registered version never changes (a new schema or artifact is a new version), so what is kept
per process needs no invalidation; only *which* version is active, its status and its referral
rules can change,
and that row is cached on the database connection until the registry's tables change
(decisions.storage.registry_lookup).
"""

from __future__ import annotations

import threading
from typing import Any

from django.db.models import QuerySet

from config.errors import ApplicationError

from . import storage
from .models import ModelVersion
from .predictors import ArtifactError, Predictor, load_predictor, sha256
from .schema import FeatureSchema

_NOT_DECIDING = {
    ModelVersion.Status.CANDIDATE: "a candidate: it decides only once promoted",
    ModelVersion.Status.REJECTED: "rejected by its registration checks",
    ModelVersion.Status.RETIRED: "retired",
    ModelVersion.Status.SUSPENDED: "suspended: explaining it crashed worker processes",
}
_versions: dict[tuple[int, Any], ModelVersion] = {}
_schemas: dict[tuple[int, Any], FeatureSchema] = {}
_localised: dict[tuple[int, Any, str | None], FeatureSchema] = {}
_predictors: dict[tuple[int, str], Predictor] = {}
_predictors_lock = threading.Lock()


def model_version_list() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.select_related("model").defer("artifact", "background")


def resolve_model_version(name: str, version: str | None = None) -> ModelVersion:
    """The named version if it is active, or the model's default version; ApplicationError naming
    the field otherwise (a candidate decides nothing until promoted, a rejected version never). The version's JSON (schema, output, texts: tens of kB) is decoded once
    per process; its artifact and background load only when a predictor is built."""
    row = storage.registry_lookup(
        ("model_version", name, version), lambda: storage.model_version_row(name, version)
    )
    if row is None:
        if version:
            raise ApplicationError(
                "unknown model version", fields={"model_version": f"{name}@{version} is not registered"}
            )
        raise ApplicationError(
            "unknown model",
            fields={"model": f"no model named {name!r} with a version that passed its checks"},
        )
    if row[2] != ModelVersion.Status.ACTIVE:
        # A suspended version is a state of the server, not a fault of the request: 409.
        conflict = 409 if row[2] == ModelVersion.Status.SUSPENDED else None
        if version:
            raise ApplicationError(
                f"{row[2]} model version",
                fields={"model_version": f"{name}@{version} is {_NOT_DECIDING[row[2]]}"},
                status_code=conflict,
            )
        raise ApplicationError(
            f"{row[2]} default version",
            fields={"model": f"the default version of {name!r} is {_NOT_DECIDING.get(row[2], row[2])}"},
            status_code=conflict,
        )
    key = (row[0], row[1])
    found = _versions.get(key)
    if found is None:
        found = _versions[key] = model_version_list().get(pk=row[0])
    # What can change of a registered version, as the row (cached until the registry changes) has it.
    found.status, found.referral_rules = row[2], row[3]
    return found


def schema_of(version: Any) -> FeatureSchema:
    """The parsed feature schema of a ModelVersion, once per process; created_at in the key
    guards against a reused primary key."""
    key = (version.pk, version.created_at)
    schema = _schemas.get(key)
    if schema is None:
        schema = _schemas[key] = FeatureSchema.from_dict(version.feature_schema)
    return schema


def schema_for_language(version: Any, language: str | None) -> FeatureSchema:
    """`schema_of` as a person reads it in `language` (decisions.translations), once per process
    per language: the settings' LANGUAGES bound how many there are."""
    key = (version.pk, version.created_at, language)
    schema = _localised.get(key)
    if schema is None:
        schema = _localised[key] = schema_of(version).localised(language)
    return schema


def predictor_for(version: Any) -> Predictor:
    """The loaded predictor of a ModelVersion, once per process; the artifact's sha256 is checked
    when it is loaded."""
    key = (version.pk, version.artifact_sha256)
    predictor = _predictors.get(key)
    if predictor is None:
        with _predictors_lock:
            predictor = _predictors.get(key)
            if predictor is None:
                artifact = bytes(version.artifact)
                if sha256(artifact) != version.artifact_sha256:
                    raise ArtifactError(
                        f"artifact of {version} does not match its recorded sha256; refusing to load"
                    )
                predictor = load_predictor(
                    version.framework,
                    artifact,
                    input_shape=(version.training or {}).get("input_shape"),
                )
                _predictors[key] = predictor
    return predictor
