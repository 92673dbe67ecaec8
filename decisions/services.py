"""Write paths of the ledger: registering models, API keys, users and recording decisions.

Every service runs in one transaction with its audit event, written last (see audit.services).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from audit.models import Action
from audit.services import Actor, EventSpec, audit_append_call, audit_record, audit_record_many
from config.errors import ApplicationError
from explanations.services import (
    explanation_pending,
    explanations_create_pending,
    explanations_pending_inserted,
    pending_insert,
)

from .auth import ROLES, generate_key, hash_key
from .models import ApiKey, Decision, DecisionModel, ModelVersion
from .predictors import (
    ArtifactError,
    decide,
    dump_background,
    load_background,
    load_predictor,
    predictor_for,
    schema_of,
    sha256,
)
from .registry import registry_lookup
from .schema import FeatureSchema, SchemaError

SUBJECT_TEXT_FIELDS = ("controller", "purpose", "significance", "consequences", "legal_basis", "contact")


def canonical_sha256(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# ---------------------------------------------------------------------------- model registry
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


# ---------------------------------------------------------------------------- keys and users
@transaction.atomic
def api_key_create(*, name: str, actor: Actor) -> tuple[ApiKey, str]:
    """Create a key; the raw key is returned once and only its hash is stored."""
    if not name.strip():
        raise ApplicationError("name required", fields={"name": "must not be empty"})
    raw, prefix = generate_key()
    key = ApiKey.objects.create(name=name.strip(), prefix=prefix, key_hash=hash_key(raw))
    audit_record(
        actor=actor,
        action=Action.API_KEY_CREATED,
        object_type="api_key",
        object_id=key.pk,
        data={"prefix": prefix},
    )
    return key, raw


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: Actor) -> ApiKey:
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at", "updated_at"])
    audit_record(actor=actor, action=Action.API_KEY_REVOKED, object_type="api_key", object_id=key.pk)
    return key


@transaction.atomic
def user_create(*, username: str, role: str, password: str, actor: Actor, email: str = ""):
    if role not in ROLES:
        raise ApplicationError("unknown role", fields={"role": f"must be one of {', '.join(ROLES)}"})
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ApplicationError("user exists", fields={"username": f"{username!r} is taken"})
    user = User.objects.create_user(username=username, password=password, email=email)
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)
    audit_record(
        actor=actor, action=Action.USER_CREATED, object_type="user", object_id=user.pk, data={"role": role}
    )
    return user


# ---------------------------------------------------------------------------- decisions
# The fields of a decision in a request. Anything else is refused, by name: a misspelt optional
# field ("refrence") would otherwise be dropped and the decision recorded without it.
DECISION_FIELDS = ("model", "model_version", "subject_ref", "reference", "features")
UNKNOWN_FIELD = f"unknown field; a decision has {', '.join(DECISION_FIELDS)}"


def unknown_fields(raw: dict) -> dict[str, str]:
    """An error per key of `raw` that is not a decision's field."""
    return {str(name): UNKNOWN_FIELD for name in raw if name not in DECISION_FIELDS}


@dataclass(frozen=True)
class DecisionInput:
    model: str
    features: Any
    subject_ref: str
    model_version: str | None = None
    reference: str = ""
    # Keys of the request item that are not fields; `_check_item` refuses them.
    unknown: tuple[str, ...] = ()

    @classmethod
    def from_raw(cls, raw: dict) -> DecisionInput:
        """Leniently from a request item; `_check_item` reports what is missing or wrong."""
        return cls(
            model=raw.get("model"),
            features=raw.get("features"),
            subject_ref=raw.get("subject_ref"),
            model_version=raw.get("model_version") or None,
            reference=raw.get("reference") or "",
            unknown=tuple(unknown_fields(raw)),
        )


@dataclass(frozen=True)
class RecordedDecision:
    decision: Decision
    access_token: str
    explanation: Any

    @property
    def subject_access_url(self) -> str:
        return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/access/{self.access_token}/"


_versions: dict[tuple[int, Any], ModelVersion] = {}


def resolve_model_version(name: str, version: str | None = None) -> ModelVersion:
    """The named version, or the newest active version of the model.

    Which version applies, and its status, are read with a narrow query, cached on the
    connection until the registry's tables change (decisions.registry); the version's
    immutable content (schema, output semantics, texts: tens of kB of JSON) is kept per
    process, so a request does not decode it again.
    """
    # One plain query: the ORM's version of it cost 1.0 ms of CPU against 0.23 ms for this one
    # (bench/RESULTS.md, stop 8).
    table, models_table = ModelVersion._meta.db_table, DecisionModel._meta.db_table
    sql = (
        f"SELECT v.id, v.created_at, v.status FROM {table} v JOIN {models_table} m ON m.id = v.model_id "  # noqa: S608
        "WHERE m.name = %s AND "
    )

    def load() -> tuple | None:
        with connection.cursor() as cursor:
            if version:
                cursor.execute(sql + "v.version = %s", [name, version])
            else:
                active = ModelVersion.Status.ACTIVE
                cursor.execute(sql + "v.status = %s ORDER BY v.created_at DESC LIMIT 1", [name, active])
            return cursor.fetchone()

    row = registry_lookup(("model_version", name, version), load)
    if version:
        if row is None:
            raise ApplicationError(
                "unknown model version", fields={"model_version": f"{name}@{version} is not registered"}
            )
        if row[2] != ModelVersion.Status.ACTIVE:
            raise ApplicationError(
                "retired model version", fields={"model_version": f"{name}@{version} is retired"}
            )
    elif row is None:
        raise ApplicationError("unknown model", fields={"model": f"no active model named {name!r}"})
    key = (row[0], row[1])
    found = _versions.get(key)
    if found is None:
        # The artifact and background (hundreds of kB) are read only on a predictor cache miss.
        found = _versions[key] = (
            ModelVersion.objects.select_related("model").defer("artifact", "background").get(pk=row[0])
        )
    found.status = row[2]
    return found


def _check_item(item: DecisionInput, versions: dict) -> tuple[ModelVersion | None, dict, dict]:
    errors: dict[str, Any] = dict.fromkeys(item.unknown, UNKNOWN_FIELD)
    if not isinstance(item.subject_ref, str) or not item.subject_ref.strip():
        errors["subject_ref"] = "this field is required"
    elif len(item.subject_ref) > 128:
        errors["subject_ref"] = "at most 128 characters"
    if not isinstance(item.reference, str) or len(item.reference) > 128:
        errors["reference"] = "must be a string of at most 128 characters"
    if not isinstance(item.model, str) or not item.model:
        errors["model"] = "this field is required"
        return None, {}, errors
    if item.model_version is not None and not isinstance(item.model_version, str):
        errors["model_version"] = "must be a string"
        return None, {}, errors
    key = (item.model, item.model_version or None)
    if key not in versions:
        try:
            versions[key] = resolve_model_version(item.model, item.model_version or None)
        except ApplicationError as exc:
            versions[key] = exc
    version = versions[key]
    if isinstance(version, ApplicationError):
        errors.update(version.fields)
        return None, {}, errors
    clean, feature_errors = schema_of(version).validate(item.features)
    if feature_errors:
        errors["features"] = feature_errors
    return version, clean, errors


def decision_record(*, item: DecisionInput, actor: Actor, api_key: ApiKey | None = None) -> RecordedDecision:
    """Validate, predict with the registered version, and record one decision atomically."""
    return decision_write(decision_prepare_one(item=item, actor=actor, api_key=api_key))[0]


def decision_record_many(
    *, items: list[DecisionInput], actor: Actor, api_key: ApiKey | None = None
) -> list[RecordedDecision]:
    """All or nothing: every item is validated before anything is written."""
    return decision_write(decision_prepare(items=items, actor=actor, api_key=api_key))


@dataclass(frozen=True)
class PreparedDecisions:
    """Decisions validated and predicted but not yet written (`decision_write` writes them).

    `recorded` is what the write will return, so a caller can build its response first: each
    decision's explanation is the pending one the write inserts with it (and gives its id).
    """

    recorded: list[RecordedDecision]
    events: list[EventSpec]


def decision_prepare_one(
    *, item: DecisionInput, actor: Actor, api_key: ApiKey | None = None
) -> PreparedDecisions:
    """`decision_prepare` of one item, whose errors are named as the request's own fields."""
    try:
        return decision_prepare(items=[item], actor=actor, api_key=api_key)
    except ApplicationError as exc:
        if exc.fields.get("decisions"):
            raise ApplicationError("invalid decision", fields=exc.fields["decisions"][0]) from None
        raise


def decision_prepare(
    *, items: list[DecisionInput], actor: Actor, api_key: ApiKey | None = None
) -> PreparedDecisions:
    """Check every item and predict with its registered version; write nothing.

    One prediction call per model version: this is the bulk path's throughput.
    """
    if not items:
        raise ApplicationError("no decisions", fields={"decisions": "must contain at least one decision"})
    if len(items) > settings.BULK_MAX_DECISIONS:
        raise ApplicationError(
            "too many decisions", fields={"decisions": f"at most {settings.BULK_MAX_DECISIONS} per request"}
        )
    versions: dict = {}
    checked = []
    errors: dict[int, Any] = {}
    for index, item in enumerate(items):
        version, clean, item_errors = _check_item(item, versions)
        if item_errors:
            errors[index] = item_errors
        checked.append((version, clean))
    if errors:
        raise ApplicationError(
            f"{len(errors)} of {len(items)} decisions are invalid; nothing was recorded",
            fields={"decisions": errors},
        )

    # Predict per model version, in one call each.
    by_version: dict[int, list[int]] = {}
    for index, (version, _) in enumerate(checked):
        by_version.setdefault(version.pk, []).append(index)
    outcomes: list[Any] = [None] * len(items)
    for indexes in by_version.values():
        version = checked[indexes[0]][0]
        matrix = schema_of(version).encode([checked[i][1] for i in indexes])
        try:
            proba = predictor_for(version).predict_proba(matrix)
        except ArtifactError as exc:
            raise ApplicationError("model unavailable", fields={"model": str(exc)}, status_code=503) from None
        if not np.isfinite(proba).all():
            # A broken model, not bad input: nothing is recorded, and no NaN reaches the ledger
            # (or a JSON response, which cannot carry it).
            bad = sorted({int(i) for i in np.argwhere(~np.isfinite(proba))[:, 0]})
            raise ApplicationError(
                "model output not usable",
                fields={
                    "model": f"{version} returned a non-finite score for "
                    f"{len(bad)} of {len(indexes)} decisions; nothing was recorded"
                },
                status_code=503,
            )
        for i, result in zip(indexes, decide(version.output, proba), strict=True):
            outcomes[i] = result

    now = timezone.now()
    expires = now + timedelta(days=settings.SUBJECT_ACCESS_DAYS)
    tokens = [secrets.token_urlsafe(24) for _ in items]  # 192 random bits each
    decisions = [
        Decision(
            model_version=version,
            subject_ref=item.subject_ref.strip(),
            reference=item.reference,
            features=clean,
            features_sha256=canonical_sha256(clean),
            score=outcome.score,
            outcome=outcome.outcome,
            favourable=outcome.favourable,
            decided_at=now,
            api_key=api_key,
            access_token_hash=hash_token(token),
            access_expires_at=expires,
        )
        for item, (version, clean), outcome, token in zip(items, checked, outcomes, tokens, strict=True)
    ]
    events = [
        EventSpec(
            actor=actor,
            action=Action.DECISION_RECORDED,
            object_type="decision",
            object_id=str(d.pk),
            data={
                "model_version": d.model_version_id,
                "features_sha256": d.features_sha256,
                "score": repr(d.score),
                "outcome": d.outcome,
            },
        )
        for d in decisions
    ]
    recorded = [
        RecordedDecision(
            decision=d, access_token=t, explanation=explanation_pending(decision=d, queued_at=now)
        )
        for d, t in zip(decisions, tokens, strict=True)
    ]
    return PreparedDecisions(recorded=recorded, events=events)


def decision_write(
    prepared: PreparedDecisions, *, also: tuple[str, list] | None = None
) -> list[RecordedDecision]:
    """Write prepared decisions, their pending explanations and their audit events atomically;
    explanations are queued after commit.

    `also` is one more `INSERT ... RETURNING` (sql, params) that must commit with the decisions
    or not at all (an Idempotency-Key's record): if it fails, nothing is written. It must
    return exactly one row.
    """
    decisions = [r.decision for r in prepared.recorded]
    explanations = [r.explanation for r in prepared.recorded]
    if connection.vendor == "postgresql" and len(decisions) <= _ONE_STATEMENT_MAX:
        # One statement, so its own transaction unless the caller has opened one.
        _insert_few_postgresql(decisions, explanations, prepared.events, also=also)
    else:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                _copy_decisions(decisions)
            else:
                Decision.objects.bulk_create(decisions)
            explanations_create_pending(explanations=explanations)
            audit_record_many(events=prepared.events)
            if also is not None:
                with connection.cursor() as cursor:
                    cursor.execute(*also)
    return prepared.recorded


# Up to this many decisions (a single POST, a small bulk), one statement on PostgreSQL.
_ONE_STATEMENT_MAX = 8


def _copy_decisions(decisions: list[Decision]) -> None:
    """PostgreSQL: insert many decisions with COPY, in the caller's transaction.

    Django's bulk_create sends one array per column (UNNEST); building and adapting those 17
    arrays cost the web process about 130 us of CPU per decision of a 1,000-decision request,
    a third of the request. psycopg writes COPY rows in C from the same prepared values
    (bench/RESULTS.md, ingest, stop 14). Every id is made in Python, so nothing is read back;
    the instances are marked saved, as bulk_create marks them.
    """
    fields = Decision._meta.concrete_fields
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    table = quote(Decision._meta.db_table)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for decision in decisions:
            copy.write_row(
                [field.get_db_prep_save(getattr(decision, field.attname), connection) for field in fields]
            )
    for decision in decisions:
        decision._state.adding = False
        decision._state.db = connection.alias


def _insert_few_postgresql(
    decisions: list[Decision],
    explanations: list,
    events: list[EventSpec],
    *,
    also: tuple[str, list] | None = None,
) -> None:
    """A few decisions, their pending explanations and their audit events in ONE statement.

    The decisions' INSERT ... VALUES and the explanations' INSERT (pending_insert), which
    references rows of the same statement (the foreign key is checked at commit), are CTEs; the
    audit events are appended by `rationale_audit_append` (audit migration 0007), which takes the
    chain lock and reads the head inside the statement. Outside a caller's transaction the
    statement is its own transaction: no BEGIN, no COMMIT, no separate lock round trip.

    `also` (an Idempotency-Key's record) is one more CTE, joined into the aggregate: it is
    inserted before the chain lock is taken, and if it fails (the key was taken meanwhile),
    the whole statement and so every row of it is rolled back.

    For one decision, bulk_create's query building cost more CPU than the database spent on both
    rows, and every extra statement was one more round trip. From about 16 rows on, bulk_create's
    one array per column is the cheaper way (bench/RESULTS.md, stops 9 and 11).
    """
    fields = Decision._meta.concrete_fields
    quote = connection.ops.quote_name
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    pending, pending_params = pending_insert(explanations=explanations)
    append, append_params = audit_append_call(events)
    # Identifiers come from the model's metadata; every value is a parameter. The aggregate
    # reads the INSERTs to the end and yields exactly one row, whose target list then calls the
    # audit function once: the chain lock is taken after the rows are written, and held only
    # for the events' insert and the commit, as before.
    also_sql, also_params = also or ("", [])
    also_cte, also_join = (f"also AS ({also_sql}), ", " CROSS JOIN also") if also else ("", "")
    sql = (
        f"WITH {also_cte}recorded AS (INSERT INTO {quote(Decision._meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(field.column) for field in fields)}) VALUES {', '.join([one] * len(decisions))} "
        f"RETURNING {quote(Decision._meta.pk.column)}), "
        f"pending AS ({pending}), "
        "written AS MATERIALIZED (SELECT array_agg(pending.decision_id) AS decisions, array_agg(pending.id) AS ids "
        f"FROM pending JOIN recorded ON recorded.{quote(Decision._meta.pk.column)} = pending.decision_id{also_join}) "
        f"SELECT written.decisions, written.ids, {append} FROM written"
    )
    params = [
        field.get_db_prep_save(getattr(d, field.attname), connection) for d in decisions for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*also_params, *params, *pending_params, *append_params])
        decision_ids, explanation_ids, _appended = cursor.fetchone()
    inserted = dict(zip(decision_ids, explanation_ids, strict=True))
    explanations_pending_inserted(explanations=explanations, ids=inserted)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
