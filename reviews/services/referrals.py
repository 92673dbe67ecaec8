"""Decisions referred before effect (decisions.referral): a caseworker takes one from the queue,
which opens a review of kind REFERRAL with the decision's own deadline, assigned to them. From
then on it is a case like any other: upholding it confirms the decision (final), overturning it
changes it (the original `replaced` by the person's decision): casework.review_uphold and
review_overturn settle it."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from audit.models import Action
from audit.services import Actor, audit_record_many
from config.errors import ApplicationError
from decisions.models import Decision

from ..models import CaseAction, ReviewRequest
from .casework import _require_caseworker
from .requests import _new_reference
from .steps import event


def referral_take(*, decision: Decision, user) -> ReviewRequest:
    """Open the review of a referred decision, assigned to `user`; the same review again when they
    took it already. Refused (409) when it is no longer waiting or someone else took it."""
    _require_caseworker(user)
    with transaction.atomic():
        decision = Decision.objects.select_for_update().get(pk=decision.pk)
        open_referral = decision.review_requests.filter(
            kind=ReviewRequest.Kind.REFERRAL, status__in=ReviewRequest.OPEN_STATUSES
        ).first()
        if open_referral is not None and open_referral.assignee_id == user.pk:
            return open_referral
        if open_referral is not None:
            raise ApplicationError(
                "referral taken",
                fields={
                    "decision": f"{open_referral.assignee} took this referral ({open_referral.reference})"
                },
                status_code=409,
            )
        if decision.restricted_at is not None:
            raise ApplicationError(
                "decision restricted",
                fields={
                    "decision": "this decision is restricted on the person's request: it cannot be worked on"
                },
                status_code=409,
            )
        if decision.status != Decision.Status.PENDING_REVIEW:
            raise ApplicationError(
                "not waiting for review",
                fields={
                    "decision": f"this decision is {decision.status}: no review before effect is waiting"
                },
                status_code=409,
            )
        now = timezone.now()
        request = ReviewRequest.objects.create(
            reference=_new_reference(),
            decision=decision,
            kind=ReviewRequest.Kind.REFERRAL,
            status=ReviewRequest.Status.IN_REVIEW,
            received_at=now,
            due_at=decision.review_due_at,
            original_due_at=decision.review_due_at,
            assignee=user,
            assigned_at=now,
        )
        CaseAction.objects.bulk_create(
            [
                CaseAction(
                    request=request,
                    kind=CaseAction.Kind.OPENED,
                    data={"reasons": decision.referral_reasons},
                    created_at=now,
                ),
                CaseAction(request=request, kind=CaseAction.Kind.TAKEN, actor=user, created_at=now),
            ]
        )
        audit_record_many(
            events=[
                event(
                    Actor.user(user),
                    Action.REVIEW_OPENED,
                    request,
                    {
                        "kind": request.kind,
                        "reasons": decision.referral_reasons,
                        "due_at": request.due_at.isoformat(),
                        "assignee": user.pk,
                    },
                )
            ]
        )
    return request
