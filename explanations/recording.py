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

from dataclasses import dataclass

from audit.events import Actor, EventSpec
from decisions.models import ApiKey, Decision, IdempotencyRecord
from decisions.recording import DecisionInput, PreparedDecisions, decision_prepare, decision_prepare_one
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


def _recording(prepared: PreparedDecisions) -> Recording:
    recorded = [
        RecordedDecision(d, token)
        for d, token in zip(prepared.decisions, prepared.access_tokens, strict=True)
    ]
    return Recording(recorded=recorded, events=prepared.events)


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
    ids = storage.record_decisions(decisions, recording.events, idempotency)
    for recorded in recording.recorded:
        recorded.explanation_id = ids[recorded.decision.pk]
    enqueue_on_commit(decisions)
    return recording.recorded


def decision_record(*, item: DecisionInput, actor: Actor, api_key: ApiKey | None = None) -> RecordedDecision:
    """Check, predict with the registered version, and record one decision atomically."""
    return recording_write(recording_prepare_one(item=item, actor=actor, api_key=api_key))[0]


def decision_record_many(
    *, items: list[DecisionInput], actor: Actor, api_key: ApiKey | None = None
) -> list[RecordedDecision]:
    """All or nothing: every item is checked before anything is written."""
    return recording_write(recording_prepare(items=items, actor=actor, api_key=api_key))
