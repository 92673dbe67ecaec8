"""Recording decisions in the ledger: each request item checked once, here, then predicted with
its registered version.

`decision_prepare` does everything but write: it checks every item (one message per bad field of
every item), predicts with one call per model version, and builds the Decision rows, their access
tokens and their audit events. What writes them commits each decision with its pending
explanation: explanations.recording, the main road's one transaction. Human decisions, which a
person takes on review and which are not explained, are recorded here (`decision_record_human`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.utils import timezone

from audit.models import Action
from audit.services import Actor, EventSpec, audit_record
from config.errors import ApplicationError

from .commitments import features_commitment, features_key
from .controller_inputs import assisted_error, decided, finite, supplied_errors, supplied_scores, text_error
from .credentials import new_access_token, secret_hash
from .models import ApiKey, Decision, ModelVersion
from .predictors import ArtifactError, decide
from .referral import referral_apply, referral_event_data
from .registry import predictor_for, resolve_model_version, schema_of
from .subject_access import access_grant

# The fields of a decision in a request. Anything else is refused, by name: a misspelt optional
# field ("refrence") would otherwise be dropped and the decision recorded without it.
DECISION_FIELDS = (
    "model",
    "model_version",
    "subject_ref",
    "reference",
    "features",
    "score",
    "contributions",
    "base_value",
    "assisted",
)
UNKNOWN_FIELD = (
    f"unknown field; a decision has {', '.join(DECISION_FIELDS[:5])} "
    f"(and {', '.join(DECISION_FIELDS[5:8])} for an external scorer, assisted for a person's decision)"
)
NOT_AN_OBJECT = "a decision is an object with model, subject_ref and features"
# (field, longest value, required) of a decision's text fields.
TEXT_FIELDS = (
    ("model", 64, True),
    ("model_version", 64, False),
    ("subject_ref", 128, True),
    ("reference", 128, False),
)


@dataclass(frozen=True)
class DecisionInput:
    """One decision as a client sent it; `decision_prepare` checks it."""

    model: Any
    features: Any
    subject_ref: Any
    model_version: Any = None
    reference: Any = ""
    score: Any = None
    contributions: Any = None
    base_value: Any = None
    # A person decided using the model's output (AI Act Art. 86): {"decided_by", "outcome"}.
    assisted: Any = None
    # Keys of the request item that are not fields, or NOT_AN_OBJECT's marker.
    unknown: tuple[str, ...] = ()

    @classmethod
    def from_raw(cls, raw: Any) -> DecisionInput:
        """From a request item, whatever it holds: the checks report what is missing or wrong."""
        if not isinstance(raw, dict):
            return cls(model=None, features=None, subject_ref=None, unknown=(NOT_AN_OBJECT,))
        return cls(
            model=raw.get("model"),
            features=raw.get("features"),
            subject_ref=raw.get("subject_ref"),
            model_version=raw.get("model_version") or None,
            reference=raw.get("reference") or "",
            score=raw.get("score"),
            contributions=raw.get("contributions"),
            base_value=raw.get("base_value"),
            assisted=raw.get("assisted"),
            unknown=tuple(str(name) for name in raw if name not in DECISION_FIELDS),
        )


@dataclass(frozen=True)
class PreparedDecisions:
    """Decisions checked and predicted but not written: the rows, each subject's access token
    (handed out once, in the response), and the audit events to commit with them."""

    decisions: list[Decision]
    access_tokens: list[str]
    events: list[EventSpec]
    # Per decision, what an external scorer supplied: {"base_value", "contributions"}, or None.
    supplied: list[dict | None]


# ---------------------------------------------------------------------------- checks
def decision_input_errors(item: DecisionInput) -> dict[str, Any]:
    """What is wrong with a decision's request fields, each named; the features are checked
    against the schema afterwards."""
    if item.unknown == (NOT_AN_OBJECT,):
        return {"non_field_errors": NOT_AN_OBJECT}
    errors: dict[str, Any] = dict.fromkeys(item.unknown, UNKNOWN_FIELD)
    for name, max_length, required in TEXT_FIELDS:
        message = text_error(getattr(item, name), max_length=max_length, required=required)
        if message:
            errors[name] = message
    if item.features is None:
        errors["features"] = "this field is required"
    if item.score is not None and not finite(item.score):
        errors["score"] = "must be a finite number"
    if item.base_value is not None and not finite(item.base_value):
        errors["base_value"] = "must be a finite number"
    if item.assisted is not None and assisted_error(item.assisted):
        errors["assisted"] = assisted_error(item.assisted)
    if item.contributions is not None:
        if not isinstance(item.contributions, dict) or not all(
            finite(v) for v in item.contributions.values()
        ):
            errors["contributions"] = "must map feature names to finite numbers"
        elif item.base_value is None:
            errors["base_value"] = "is required with contributions: base_value + their sum is the score"
    return errors


def _check_item(item: DecisionInput, versions: dict) -> tuple[ModelVersion | None, dict, dict]:
    """(version, clean features, errors). The request's shape is checked before the schema, so
    that a malformed item is not also reported feature by feature."""
    errors = decision_input_errors(item)
    if errors:
        return None, {}, errors
    key = (item.model.strip(), item.model_version.strip() if item.model_version else None)
    if key not in versions:
        try:
            versions[key] = resolve_model_version(*key)
        except ApplicationError as exc:
            versions[key] = exc
    version = versions[key]
    if isinstance(version, ApplicationError) and version.status_code == 409:
        raise version  # a suspended version: the request conflicts with the server's state
    if isinstance(version, ApplicationError):
        return None, {}, dict(version.fields)
    schema = schema_of(version)
    clean, feature_errors = schema.validate(item.features)
    errors = supplied_errors(item, version, schema.names)
    labels = version.output["class_labels"]
    if item.assisted is not None and item.assisted["outcome"] not in labels:
        errors["assisted"] = {"outcome": f"must be one of {labels}"}
    if feature_errors:
        errors["features"] = feature_errors
    return version, clean, errors


# ---------------------------------------------------------------------------- prepare
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

    All or nothing: one bad item and nothing is prepared. One prediction call per model version:
    this is the bulk path's throughput.
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
    outcomes = _predict(checked, items)
    now = timezone.now()
    grants = [access_grant(now=now) for _ in items]
    keys = [features_key() for _ in items]
    decisions = [
        Decision(
            model_version=version,
            subject_ref=item.subject_ref.strip(),
            reference=item.reference.strip(),
            features=clean,
            features_key=key,
            features_commitment=features_commitment(key=key, features=clean),
            score=outcome.score,
            decided_at=now,
            api_key=api_key,
            access_token_hash=grant.token_hash,
            access_expires_at=grant.expires_at,
            **decided(version, outcome, item.assisted),
        )
        for item, (version, clean), outcome, grant, key in zip(
            items, checked, outcomes, grants, keys, strict=True
        )
    ]
    referral_apply(decisions, list(versions.values()), now=now)
    events = [
        EventSpec(
            actor=actor,
            action=Action.DECISION_RECORDED,
            object_type="decision",
            object_id=str(d.pk),
            data={
                "model_version": d.model_version_id,
                "features_commitment": d.features_commitment,
                "score": repr(d.score),
                "outcome": d.outcome,
                **({"kind": d.kind, "model_outcome": d.model_outcome} if d.model_outcome else {}),
                # Only a referred decision's event says so: every other event stays as it was.
                **(referral_event_data(d) if d.status != Decision.Status.FINAL else {}),
            },
        )
        for d in decisions
    ]
    supplied = [
        {
            "base_value": float(item.base_value),
            "contributions": {k: float(v) for k, v in item.contributions.items()},
        }
        if item.contributions is not None
        else None
        for item in items
    ]
    return PreparedDecisions(
        decisions=decisions, access_tokens=[g.token for g in grants], events=events, supplied=supplied
    )


def _predict(checked: list[tuple[ModelVersion, dict]], items: list[DecisionInput]) -> list:
    """Each item's outcome, with one prediction call per model version (an external scorer's
    outcome from the score its request carries)."""
    by_version: dict[int, list[int]] = {}
    for index, (version, _) in enumerate(checked):
        by_version.setdefault(version.pk, []).append(index)
    outcomes: list[Any] = [None] * len(checked)
    for indexes in by_version.values():
        version = checked[indexes[0]][0]
        if version.framework == ModelVersion.Framework.EXTERNAL:
            for i, result in zip(
                indexes,
                decide(version.output, supplied_scores(version, [items[i] for i in indexes])),
                strict=True,
            ):
                outcomes[i] = result
            continue
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
    return outcomes


# ---------------------------------------------------------------------------- human decisions
def decision_record_human(*, reviewed: Decision, outcome: str, actor: Actor, now: datetime) -> Decision:
    """A person's decision on review, superseding `reviewed`, with its audit event; call it in the
    review's transaction, holding the lock on the chain's original (reviews.services.casework).
    The model's score is kept for the record; the outcome is the person's. The subject keeps using
    the link to the original, so this decision's token is never handed out; its access follows the
    original's.

    Only the decision in force can be superseded: one replaced already is refused here (and by the
    `decision_superseded_once` constraint), so a history never forks into rival outcomes."""
    if Decision.objects.filter(supersedes=reviewed).exists():
        raise ApplicationError(
            "decision already replaced",
            fields={"decision": "a person has changed this outcome already: review the outcome in force"},
            status_code=409,
        )
    version = reviewed.model_version
    favourable_label = version.output.get("favourable_label")
    # A key of its own, as every decision has: no key is shared, so each goes with its row.
    key = features_key()
    human = Decision.objects.create(
        model_version=version,
        kind=Decision.Kind.HUMAN,
        supersedes=reviewed,
        subject_ref=reviewed.subject_ref,
        reference=reviewed.reference,
        features=reviewed.features,
        features_key=key,
        features_commitment=features_commitment(key=key, features=reviewed.features),
        score=reviewed.score,
        outcome=outcome,
        favourable=None if favourable_label is None else outcome == favourable_label,
        decided_at=now,
        access_token_hash=secret_hash(new_access_token()),
        access_expires_at=reviewed.access_expires_at,
        access_revoked_at=reviewed.access_revoked_at,
    )
    audit_record(
        actor=actor,
        action=Action.DECISION_RECORDED,
        object_type="decision",
        object_id=human.pk,
        data={
            "kind": Decision.Kind.HUMAN,
            "supersedes": str(reviewed.pk),
            "model_version": human.model_version_id,
            "features_commitment": human.features_commitment,
            "outcome": outcome,
        },
    )
    return human
