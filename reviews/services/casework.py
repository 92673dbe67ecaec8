"""The caseworker's side: take a case, ask the subject, extend the deadline, uphold or overturn.

Every action needs the `caseworker` role and a written rationale where the subject will read one.
Acting on an unassigned case takes it; acting on someone else's is refused. A decision has one
outcome in force: uphold and overturn work on it, under a lock on the decision's original, and an
overturn supersedes exactly that decision.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from audit.models import Action
from audit.services import Actor, audit_record_many, canonical_sha256
from config.errors import ApplicationError
from decisions.auth import CASEWORKER, has_role
from decisions.models import Decision
from decisions.recording import decision_record_human
from decisions.referral import referral_settle
from decisions.selectors import effective_decision

from .. import emails
from ..deadlines import MAX_EXTENSION_MONTHS, add_months
from ..models import CaseAction, ReviewRequest
from ..status_links import status_link
from .steps import MIN_RATIONALE, clean_text, event, lock, notify, request_close

# The role a review is decided under, recorded on each decision a person takes (the exports and
# the subject's page name the role, never the person).
REVIEWER_ROLE = CASEWORKER


def _require_caseworker(user) -> None:
    if not has_role(user, CASEWORKER):
        raise ApplicationError("caseworkers only", fields={"user": "not a caseworker"}, status_code=403)


def _require_open(request: ReviewRequest) -> None:
    """Open, and its decision not restricted on the person's request (oversight.erasure): a
    restricted decision's case cannot be worked on until its data is erased."""
    if not request.is_open:
        raise ApplicationError(
            "request already decided", fields={"status": f"request is {request.status}"}, status_code=409
        )
    if request.decision.restricted_at is not None:
        raise ApplicationError(
            "decision restricted",
            fields={"status": "this decision is restricted on the person's request: it cannot be worked on"},
            status_code=409,
        )


def _require_not_rectify(request: ReviewRequest) -> None:
    """A request for correction is decided by accepting or rejecting the corrections
    (services.rectify), never by upholding or overturning."""
    if request.kind == ReviewRequest.Kind.RECTIFY:
        raise ApplicationError(
            "request for correction",
            fields={"status": "decide a request for correction by accepting or rejecting its corrections"},
            status_code=409,
        )


def _claim_for(request: ReviewRequest, user, now: datetime) -> None:
    """Acting on an unassigned case takes it; acting on someone else's case is refused."""
    if request.assignee_id is None:
        request.assignee = user
        request.assigned_at = now
        if request.status == ReviewRequest.Status.RECEIVED:
            request.status = ReviewRequest.Status.IN_REVIEW
    elif request.assignee_id != user.pk:
        raise ApplicationError(
            "taken by another caseworker",
            fields={"assignee": f"this case is assigned to {request.assignee}"},
            status_code=409,
        )


def _seconds_since_taken(request: ReviewRequest, now: datetime) -> float:
    return max((now - (request.assigned_at or now)).total_seconds(), 0.0)


def review_take(*, request: ReviewRequest, user) -> ReviewRequest:
    _require_caseworker(user)
    with transaction.atomic():
        request = lock(request)
        _require_open(request)
        if request.assignee_id == user.pk:
            return request
        _claim_for(request, user, timezone.now())
        request.save(update_fields=["assignee", "assigned_at", "status", "updated_at"])
        CaseAction.objects.create(
            request=request, kind=CaseAction.Kind.TAKEN, actor=user, created_at=request.assigned_at
        )
        audit_record_many(events=[event(Actor.user(user), Action.REVIEW_TAKEN, request)])
    return request


def review_request_information(*, request: ReviewRequest, user, question: str) -> ReviewRequest:
    """Ask the subject for information; they answer on their page. The deadline keeps running."""
    _require_caseworker(user)
    question = clean_text(question, field="question", required=True, minimum=MIN_RATIONALE)
    with transaction.atomic():
        request = lock(request)
        _require_open(request)
        now = timezone.now()
        _claim_for(request, user, now)
        request.status = ReviewRequest.Status.INFO_REQUESTED
        request.info_question = question
        request.save(update_fields=["assignee", "assigned_at", "status", "info_question", "updated_at"])
        CaseAction.objects.create(
            request=request,
            kind=CaseAction.Kind.INFO_REQUESTED,
            actor=user,
            rationale=question,
            created_at=now,
        )
        notify(emails.send_info_request, request, link=status_link(request))
        audit_record_many(events=[event(Actor.user(user), Action.REVIEW_INFO_REQUESTED, request)])
    return request


def review_extend(*, request: ReviewRequest, user, months: int, reason: str) -> ReviewRequest:
    """Extend the deadline (Art. 12(3)): by at most two further months in all, only while the first
    month runs, with the reasons, which the subject is told."""
    _require_caseworker(user)
    reason = clean_text(reason, field="reason", required=True, minimum=MIN_RATIONALE)
    if months not in (1, 2):
        raise ApplicationError("invalid extension", fields={"months": "extend by one or two months"})
    with transaction.atomic():
        request = lock(request)
        _require_open(request)
        now = timezone.now()
        if now > request.original_due_at:
            raise ApplicationError(
                "too late to extend",
                fields={"months": "an extension must be given within one month of receipt (Art. 12(3))"},
            )
        total = request.extension_months + months
        if total > MAX_EXTENSION_MONTHS:
            raise ApplicationError(
                "extension too long",
                fields={
                    "months": f"at most {MAX_EXTENSION_MONTHS} further months in all; "
                    f"{request.extension_months} already granted"
                },
            )
        _claim_for(request, user, now)
        previous_due = request.due_at
        request.extension_months = total
        request.due_at = add_months(request.original_due_at, total)
        request.extended_at = now
        request.extension_reason = reason
        request.save(
            update_fields=[
                "assignee",
                "assigned_at",
                "status",
                "extension_months",
                "due_at",
                "extended_at",
                "extension_reason",
                "updated_at",
            ]
        )
        CaseAction.objects.create(
            request=request,
            kind=CaseAction.Kind.EXTENDED,
            actor=user,
            rationale=reason,
            data={
                "months": months,
                "previous_due_at": previous_due.isoformat(),
                "due_at": request.due_at.isoformat(),
            },
            created_at=now,
        )
        notify(emails.send_extension, request, link=status_link(request))
        audit_record_many(
            events=[
                event(
                    Actor.user(user),
                    Action.REVIEW_EXTENDED,
                    request,
                    {"months": months, "due_at": request.due_at.isoformat()},
                )
            ]
        )
    return request


def _lock_outcome_in_force(request: ReviewRequest, expected_in_force) -> Decision:
    """Lock the chain's original and return the decision in force. Every review of the decision
    locks the same row, so two caseworkers deciding different requests about it take turns, and
    the second works on the outcome the first left (never on one already replaced).

    `expected_in_force` is the id of the decision in force the caseworker saw when they opened
    the case (the case page posts it): if another review changed the outcome since, their decision
    is refused, so that no one contradicts an earlier review without having read it."""
    original = Decision.objects.select_for_update().get(pk=request.decision_id)
    in_force = effective_decision(original)
    if expected_in_force not in (None, "") and str(expected_in_force) != str(in_force.pk):
        raise ApplicationError(
            "outcome changed",
            fields={
                "in_force": "the outcome in force changed since you opened this case: "
                "read the earlier review, then decide again"
            },
            status_code=409,
        )
    return in_force


def _earlier_review(in_force: Decision) -> str:
    """The reference of the review whose human decision is in force ("" for the automated one)."""
    if in_force.kind != Decision.Kind.HUMAN:
        return ""
    return (
        ReviewRequest.objects.filter(human_decision=in_force).values_list("reference", flat=True).first()
        or ""
    )


def review_uphold(
    *, request: ReviewRequest, user, rationale: str, expected_in_force: str | None = None
) -> ReviewRequest:
    """A person confirms the outcome in force (the automated one, or a person's after an earlier
    review), with the reasons the subject will read."""
    _require_caseworker(user)
    rationale = clean_text(rationale, field="rationale", required=True, minimum=MIN_RATIONALE)
    with transaction.atomic():
        request = lock(request)
        _require_open(request)
        _require_not_rectify(request)
        reviewed = _lock_outcome_in_force(request, expected_in_force)
        now = timezone.now()
        _claim_for(request, user, now)
        request_close(request, status=ReviewRequest.Status.UPHELD, rationale=rationale, now=now)
        # A decision referred before effect takes effect now, confirmed (decisions.referral).
        referred = referral_settle(decision_id=request.decision_id, changed=False)
        earlier = _earlier_review(reviewed)
        CaseAction.objects.create(
            request=request,
            kind=CaseAction.Kind.UPHELD,
            actor=user,
            rationale=rationale,
            # An automation-bias signal only when the outcome confirmed is the model's own.
            agrees_with_model=True if reviewed.kind == Decision.Kind.AUTOMATED else None,
            seconds_spent=_seconds_since_taken(request, now),
            data={
                "outcome": reviewed.outcome,
                "decision": str(reviewed.pk),
                "role": REVIEWER_ROLE,
                "earlier_review": earlier,
            },
            created_at=now,
        )
        notify(emails.send_outcome, request, link=status_link(request))
        audit_record_many(
            events=[
                event(
                    Actor.user(user),
                    Action.REVIEW_UPHELD,
                    request,
                    {
                        "outcome": reviewed.outcome,
                        "decision": str(reviewed.pk),
                        "role": REVIEWER_ROLE,
                        "rationale_sha256": canonical_sha256(rationale),
                        **({"referral": True} if referred else {}),
                    },
                )
            ]
        )
    return request


def review_overturn(
    *, request: ReviewRequest, user, new_outcome: str, rationale: str, expected_in_force: str | None = None
) -> ReviewRequest:
    """A person changes the outcome in force: a new Decision of kind HUMAN supersedes the decision
    in force (the automated one, or a person's after an earlier review), so the history stays one
    line: automated -> human -> human.

    The ledger keeps every step; the subject's link to the original shows the outcome in force."""
    _require_caseworker(user)
    rationale = clean_text(rationale, field="rationale", required=True, minimum=MIN_RATIONALE)
    with transaction.atomic():
        request = lock(request)
        _require_open(request)
        _require_not_rectify(request)
        reviewed = _lock_outcome_in_force(request, expected_in_force)
        labels = reviewed.model_version.output["class_labels"]
        if new_outcome not in labels:
            raise ApplicationError("unknown outcome", fields={"new_outcome": f"must be one of {labels}"})
        if new_outcome == reviewed.outcome:
            raise ApplicationError(
                "same outcome",
                fields={"new_outcome": "that is the outcome in force: uphold the decision instead"},
            )
        now = timezone.now()
        _claim_for(request, user, now)
        actor = Actor.user(user)
        earlier = _earlier_review(reviewed)
        # Its audit event joins the chain here, before the review's own, as it did when both
        # were written together.
        human = decision_record_human(reviewed=reviewed, outcome=new_outcome, actor=actor, now=now)
        # A decision referred before effect never takes effect: the person's replaces it.
        referred = referral_settle(decision_id=request.decision_id, changed=True)
        request_close(
            request,
            status=ReviewRequest.Status.OVERTURNED,
            rationale=rationale,
            now=now,
            human_decision=human,
        )
        CaseAction.objects.create(
            request=request,
            kind=CaseAction.Kind.OVERTURNED,
            actor=user,
            rationale=rationale,
            agrees_with_model=False if reviewed.kind == Decision.Kind.AUTOMATED else None,
            seconds_spent=_seconds_since_taken(request, now),
            data={
                "from": reviewed.outcome,
                "to": new_outcome,
                "decision": str(human.pk),
                "supersedes": str(reviewed.pk),
                "role": REVIEWER_ROLE,
                "earlier_review": earlier,
            },
            created_at=now,
        )
        notify(emails.send_outcome, request, link=status_link(request))
        audit_record_many(
            events=[
                event(
                    actor,
                    Action.REVIEW_OVERTURNED,
                    request,
                    {
                        "from": reviewed.outcome,
                        "to": new_outcome,
                        "human_decision": str(human.pk),
                        "supersedes": str(reviewed.pk),
                        "role": REVIEWER_ROLE,
                        "rationale_sha256": canonical_sha256(rationale),
                        **({"referral": True} if referred else {}),
                    },
                )
            ]
        )
    return request
