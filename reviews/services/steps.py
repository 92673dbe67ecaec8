"""What every step of a request shares: its text checked, its row locked, its audit event, and
the e-mail to the subject after commit."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from django.db import transaction

from audit.services import Actor, EventSpec
from config.errors import ApplicationError
from decisions.models import Decision

from ..models import ReviewRequest
from ..selectors import contact_of

MAX_TEXT = 5000
MIN_RATIONALE = 20  # a written rationale is a few words at least, not "ok"


def clean_text(value: str | None, *, field: str, required: bool, minimum: int = 1) -> str:
    text = (value or "").strip()
    if required and len(text) < minimum:
        message = "this field is required" if minimum <= 1 else f"write at least {minimum} characters"
        raise ApplicationError("missing text", fields={field: message})
    if len(text) > MAX_TEXT:
        raise ApplicationError("text too long", fields={field: f"at most {MAX_TEXT} characters"})
    return text


def lock(request: ReviewRequest) -> ReviewRequest:
    """Re-read the request under a row lock: two caseworkers acting at once serialise here.

    Only the request's row (`of=self`): locking the joined decision and model version too would
    hold up every new decision of that version (an insert takes a key-share lock on its version)
    for as long as a review's transaction runs. Reviews that change the outcome lock the decision
    themselves (casework._lock_outcome_in_force)."""
    return (
        ReviewRequest.objects.select_for_update(of=("self",))
        .select_related("decision__model_version")
        .get(pk=request.pk)
    )


def event(actor: Actor, action: str, request: ReviewRequest, data: dict | None = None) -> EventSpec:
    return EventSpec(
        actor=actor,
        action=action,
        object_type="review_request",
        object_id=str(request.pk),
        data={"decision": str(request.decision_id), "reference": request.reference, **(data or {})},
    )


def notify(send, request: ReviewRequest, **kwargs) -> None:
    """E-mail the subject after commit, if an address is on file: the one given with this request
    or, failing that, with another request about the same decision (reviews.selectors.contact_of)."""
    if contact_of(request) is not None:
        transaction.on_commit(partial(send, request_id=request.pk, **kwargs))


def request_close(
    request: ReviewRequest,
    *,
    status: str,
    rationale: str,
    now: datetime,
    human_decision: Decision | None = None,
) -> None:
    """Close a locked request with the reviewer's outcome, rationale and the decision it recorded
    (none when upheld or every correction was rejected), with whoever acted as its assignee."""
    request.status = status
    request.rationale = rationale
    request.closed_at = now
    request.human_decision = human_decision
    request.save(
        update_fields=[
            "assignee",
            "assigned_at",
            "status",
            "rationale",
            "closed_at",
            "human_decision",
            "updated_at",
        ]
    )
