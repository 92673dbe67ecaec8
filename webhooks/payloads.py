"""What a webhook says about an audit event, and whose API key it goes to.

A payload holds ids, outcomes and states: never a decision's features, its subject's reference,
a statement or a rationale. Each batch of events is read with a fixed number of queries (one per
kind of row, plus one per level of a chain of superseding decisions).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from audit.models import Action
from decisions.models import Decision
from reviews.models import ReviewRequest

from . import catalogue

DECISION_FIELDS = (
    "id",
    "api_key_id",
    "supersedes_id",
    "kind",
    "status",
    "outcome",
    "favourable",
    "referral_reasons",
    "review_due_at",
    "decided_at",
    "model_version__model__name",
    "model_version__version",
)
REQUEST_FIELDS = ("id", "decision_id", "reference", "kind", "status", "due_at", "human_decision_id")
DEADLINES = (Action.REVIEW_DEADLINE_NEAR, Action.REVIEW_DEADLINE_MISSED)
STAFF_KINDS = {ReviewRequest.Kind.STAFF: "staff", ReviewRequest.Kind.REFERRAL: "referral"}


@dataclass(frozen=True)
class AuditRow:
    id: int
    created_at: datetime
    action: str
    object_type: str
    object_id: str
    data: dict


@dataclass(frozen=True)
class WebhookEvent:
    audit_event_id: int
    event_type: str
    api_key_id: int
    created_at: datetime
    payload: dict


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class _Rows:
    """The decisions and review requests a batch of events refers to, read in bulk."""

    def __init__(self, events: list[AuditRow]):
        request_ids = {int(e.object_id) for e in events if e.object_type == "review_request"}
        self.requests = {
            r["id"]: r for r in ReviewRequest.objects.filter(id__in=request_ids).values(*REQUEST_FIELDS)
        }
        wanted = {str(r["decision_id"]) for r in self.requests.values()}
        for e in events:
            if e.object_type == "decision":
                wanted.add(e.object_id)
            elif e.object_type == "explanation" and e.data.get("decision"):
                wanted.add(e.data["decision"])
        self.decisions: dict[str, dict] = {}
        self._load(wanted)
        # A decision a person took (or one on corrected data) has no API key of its own: it
        # belongs to the key of the first decision of its chain. Load the chain up to a key.
        missing = self._unowned_ancestors()
        while missing:
            self._load(missing)
            missing = self._unowned_ancestors()

    def _load(self, ids: set[str]) -> None:
        for row in Decision.objects.filter(id__in=ids).values(*DECISION_FIELDS):
            self.decisions[str(row["id"])] = row

    def _unowned_ancestors(self) -> set[str]:
        return {
            str(d["supersedes_id"])
            for d in self.decisions.values()
            if d["api_key_id"] is None
            and d["supersedes_id"]
            and str(d["supersedes_id"]) not in self.decisions
        }

    def owner(self, decision_id: str) -> int | None:
        row = self.decisions.get(decision_id)
        while row is not None and row["api_key_id"] is None and row["supersedes_id"]:
            row = self.decisions.get(str(row["supersedes_id"]))
        return row["api_key_id"] if row is not None else None


def _decision_body(row: dict, data: dict, *, status: str) -> dict[str, Any]:
    referral = data.get("referral") or data  # a recorded decision's event nests it; a referral's not
    pending = status == Decision.Status.PENDING_REVIEW
    return {
        "decision": str(row["id"]),
        "model": row["model_version__model__name"],
        "model_version": row["model_version__version"],
        "kind": row["kind"],
        "outcome": data.get("outcome", row["outcome"]),
        "favourable": row["favourable"],
        "status": str(status),
        # As the event recorded them: a decision referred later was final when recorded.
        "referral_reasons": referral.get("reasons", row["referral_reasons"]) if pending else [],
        "review_due_at": referral.get("due_at") or _iso(row["review_due_at"]) if pending else None,
        "decided_at": _iso(row["decided_at"]),
    }


def _review_body(event: AuditRow, request: dict, rows: _Rows) -> dict[str, Any]:
    body = {
        "review": request["id"],
        "reference": request["reference"],
        "decision": str(request["decision_id"]),
        "kind": request["kind"],
    }
    if event.action in (Action.REVIEW_REQUESTED, Action.REVIEW_OPENED):
        body["origin"] = STAFF_KINDS.get(request["kind"], "subject")
        body["due_at"] = event.data.get("due_at") or _iso(request["due_at"])
    elif event.action in catalogue.REVIEW_OUTCOMES:
        # What is in force after the review, as the event recorded it: an overturn's or a
        # redecision's new decision, or the decision upheld.
        in_force = (
            event.data.get("human_decision") or event.data.get("decision") or str(request["decision_id"])
        )
        outcome = event.data.get("to") or event.data.get("outcome")
        if outcome is None and in_force in rows.decisions:
            outcome = rows.decisions[in_force]["outcome"]
        body.update(
            {
                "outcome": catalogue.REVIEW_OUTCOMES[event.action],
                "decision_in_force": in_force,
                "outcome_in_force": outcome,
                "human_decision": event.data.get("human_decision")
                or (str(request["human_decision_id"]) if request["human_decision_id"] else None),
                "referral": request["kind"] == ReviewRequest.Kind.REFERRAL,
            }
        )
    elif event.action in DEADLINES:
        body["due_at"] = event.data.get("due_at") or _iso(request["due_at"])
    return body


def _referral_deadline_body(event: AuditRow) -> dict[str, Any]:
    return {
        "review": None,
        "reference": event.data.get("reference") or None,
        "decision": event.object_id,
        "kind": ReviewRequest.Kind.REFERRAL.value,
        "due_at": event.data.get("due_at"),
    }


def _one(event: AuditRow, rows: _Rows) -> tuple[str, str, dict] | None:
    """(event type, owning decision id, data) of one audit event, or None if it is not one."""
    event_type = catalogue.ACTION_EVENT_TYPES.get(event.action)
    if event_type is None:
        return None
    if event.object_type == "decision":
        row = rows.decisions.get(event.object_id)
        if row is None:
            return None
        if event.action in DEADLINES:
            # A referred decision's deadline while no caseworker has taken it: no review yet.
            return event_type, event.object_id, _referral_deadline_body(event)
        # The status the event recorded (a recorded decision's event names it unless final), not
        # the row's now: a decision referred after it was recorded was final when recorded.
        if event.action == Action.DECISION_REFERRED:
            body = _decision_body(row, event.data, status=Decision.Status.PENDING_REVIEW)
        else:
            body = _decision_body(row, event.data, status=event.data.get("status", Decision.Status.FINAL))
        if event.action == Action.DECISION_RECORDED and row["supersedes_id"]:
            return (
                catalogue.DECISION_SUPERSEDED,
                event.object_id,
                {**body, "supersedes": str(row["supersedes_id"])},
            )
        return event_type, event.object_id, body
    if event.object_type == "explanation":
        decision_id = event.data.get("decision", "")
        data = {"decision": decision_id, "explanation": int(event.object_id)}
        if event_type == catalogue.EXPLANATION_DONE:
            data["method"] = event.data.get("method")
        return event_type, decision_id, data
    if event.object_type == "review_request":
        request = rows.requests.get(int(event.object_id))
        if request is None:
            return None
        return event_type, str(request["decision_id"]), _review_body(event, request, rows)
    return None


def webhook_events(events: list[AuditRow]) -> list[WebhookEvent]:
    """The webhook events among `events`, each with the API key whose endpoints may receive it."""
    relevant = [e for e in events if e.action in catalogue.ACTION_EVENT_TYPES]
    if not relevant:
        return []
    rows = _Rows(relevant)
    found = []
    for event in relevant:
        made = _one(event, rows)
        if made is None:
            continue
        event_type, decision_id, data = made
        owner = rows.owner(decision_id)
        if owner is None:  # recorded without a key (the demo, the pages): nobody to tell
            continue
        payload = {"type": event_type, "timestamp": _iso(event.created_at), "data": data}
        found.append(WebhookEvent(event.id, event_type, owner, event.created_at, payload))
    return found
