"""Recording decisions: the main road's write. Each automated decision is written with its
pending explanation and its audit event, in one transaction, and its explanation is queued after
commit.

    prepared = recording_prepare(items=..., actor=..., api_key=...)   # checked, predicted
    body = ...the response, built from prepared.recorded...
    recording_write(prepared, idempotency=claim.record(201, body))     # one transaction

The two steps let an Idempotency-Key's record of the response commit with the decisions it
describes; `decision_record` and `decision_record_many` do both for everyone else.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from audit.events import Actor, EventSpec
from decisions.models import ApiKey, Decision, IdempotencyRecord, ModelVersion
from decisions.recording import DecisionInput, PreparedDecisions, decision_prepare, decision_prepare_one
from decisions.referral import FLAGGED_EXPLANATION, refer, referral_event_data
from decisions.subject_access import access_url

from . import storage
from .models import Explanation
from .queue import enqueue_on_commit


@dataclass
class RecordedDecision:
    """A decision as its recording answers it. Until it is written its explanation has no id; its
    status is pending from the start."""

    decision: Decision
    access_token: str
    explanation_id: int | None = None
    explanation_status: str = Explanation.Status.PENDING

    @property
    def subject_access_url(self) -> str:
        """The link to send the subject with the decision: only ever in the creating response."""
        return access_url(self.access_token)


@dataclass(frozen=True)
class Recording:
    """Decisions checked and predicted, not yet written."""

    recorded: list[RecordedDecision]
    events: list[EventSpec]
    supplied: list[dict | None]


def _recording(prepared: PreparedDecisions) -> Recording:
    recorded = [
        RecordedDecision(d, token, explanation_status=_first_status(d, supplied))
        for d, token, supplied in zip(
            prepared.decisions, prepared.access_tokens, prepared.supplied, strict=True
        )
    ]
    for one, event in zip(recorded, prepared.events, strict=True):
        if one.explanation_status == Explanation.Status.FAILED:
            _refer_unexplained(one.decision, event)
    return Recording(recorded=recorded, events=prepared.events, supplied=prepared.supplied)


def _refer_unexplained(decision: Decision, event: EventSpec) -> None:
    """An external scorer's decision recorded without its reasons has a failed explanation from
    the start: a version whose rules refer flagged explanations refers it now, before it is
    written, rather than after the fact (explanations.store)."""
    rules = decision.model_version.referral_rules  # fresh: the version came from resolve_model_version
    if rules.get("flagged_explanation") and decision.kind == Decision.Kind.AUTOMATED:
        refer(decision, reasons=[FLAGGED_EXPLANATION], rules=rules, now=decision.decided_at)
        event.data.update(referral_event_data(decision))


def _first_status(decision: Decision, supplied: dict | None) -> str:
    """Pending, except for an external scorer's decision: its explanation is what the request
    supplied (done) or nothing (failed), at once."""
    if decision.model_version.framework != ModelVersion.Framework.EXTERNAL:
        return Explanation.Status.PENDING
    return Explanation.Status.DONE if supplied is not None else Explanation.Status.FAILED


def recording_prepare(
    *, items: list[DecisionInput], actor: Actor, api_key: ApiKey | None = None
) -> Recording:
    """All or nothing: every item is checked and predicted before anything is written."""
    return _recording(decision_prepare(items=items, actor=actor, api_key=api_key))


def recording_prepare_one(*, item: DecisionInput, actor: Actor, api_key: ApiKey | None = None) -> Recording:
    """One decision, whose errors are named as the request's own fields."""
    return _recording(decision_prepare_one(item=item, actor=actor, api_key=api_key))


def recording_write(
    recording: Recording, *, idempotency: IdempotencyRecord | None = None
) -> list[RecordedDecision]:
    """Write the decisions, their pending explanations, their audit events and the
    Idempotency-Key's record, all or nothing; queue the explanations after commit."""
    decisions = [r.decision for r in recording.recorded]
    external = [
        (recorded, supplied)
        for recorded, supplied in zip(recording.recorded, recording.supplied, strict=True)
        if recorded.decision.model_version.framework == ModelVersion.Framework.EXTERNAL
    ]
    # The main road is one statement on PostgreSQL; only an external scorer's decisions need a
    # transaction around it, for their supplied explanations.
    with transaction.atomic() if external else nullcontext():
        ids = storage.record_decisions(decisions, recording.events, idempotency)
        for recorded in recording.recorded:
            recorded.explanation_id = ids[recorded.decision.pk]
        if external:
            explanations_supplied_store(external)
    enqueue_on_commit([d for d in decisions if d.model_version.framework != ModelVersion.Framework.EXTERNAL])
    return recording.recorded


NOT_SUPPLIED = (
    "The controller's own scoring system decided, and it supplied no per-feature reasons; "
    "Rationale cannot run that system to compute them."
)


def explanations_supplied_store(external: list[tuple[RecordedDecision, dict | None]]) -> None:
    """An external scorer's decisions: their explanation is what the controller supplied (its
    additivity checked when the request was), stored done at once, or failed when nothing was
    supplied. Nothing is queued for them."""
    now = timezone.now()
    rows = Explanation.objects.filter(id__in=[r.explanation_id for r, _ in external]).in_bulk()
    for recorded, supplied in external:
        row = rows[recorded.explanation_id]
        decision = recorded.decision
        row.started_at = row.finished_at = now
        if supplied is None:
            row.status, row.error = Explanation.Status.FAILED, NOT_SUPPLIED
        else:
            regression = decision.model_version.output["type"] == "regression"
            total = supplied["base_value"] + sum(supplied["contributions"].values())
            row.status = Explanation.Status.DONE
            row.method = ModelVersion.ExplainerMethod.SUPPLIED
            row.params = {
                "source": "supplied by the controller's external scorer",
                "additivity_checked": True,
            }
            row.output_space = "score" if regression else "probability"
            row.explained_class = decision.model_version.output["class_labels"][-1]
            row.base_value = supplied["base_value"]
            row.predicted_value = decision.score
            row.contributions = supplied["contributions"]
            row.additivity_error = abs(total - decision.score)
    Explanation.objects.bulk_update(
        rows.values(),
        [
            "status",
            "error",
            "method",
            "params",
            "output_space",
            "explained_class",
            "base_value",
            "predicted_value",
            "contributions",
            "additivity_error",
            "started_at",
            "finished_at",
        ],
    )


def decision_record(*, item: DecisionInput, actor: Actor, api_key: ApiKey | None = None) -> RecordedDecision:
    """Check, predict with the registered version, and record one decision atomically."""
    return recording_write(recording_prepare_one(item=item, actor=actor, api_key=api_key))[0]


def decision_record_many(
    *, items: list[DecisionInput], actor: Actor, api_key: ApiKey | None = None
) -> list[RecordedDecision]:
    """All or nothing: every item is checked before anything is written."""
    return recording_write(recording_prepare(items=items, actor=actor, api_key=api_key))
