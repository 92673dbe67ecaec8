"""Reviews staff open themselves: a caseworker or an auditor who doubts a decision opens a review
of it (AI Act Art. 14), with their reason; a caseworker then works it as any other case."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import Action
from audit.services import Actor, audit_record_many, canonical_sha256
from config.errors import ApplicationError
from decisions.auth import AUDITOR, CASEWORKER, has_role
from decisions.models import Decision

from ..models import CaseAction, ReviewRequest
from .requests import _new_reference
from .steps import MIN_RATIONALE, clean_text, event


def review_open(*, decision: Decision, user, reason: str) -> ReviewRequest:
    """Open a review of `decision` (of the original, when given a person's later decision), due in
    STAFF_REVIEW_DAYS. Refused (409, naming it) while another review of the decision is open."""
    if not (has_role(user, CASEWORKER) or has_role(user, AUDITOR)):
        raise ApplicationError(
            "caseworkers and auditors only", fields={"user": "not a caseworker or auditor"}, status_code=403
        )
    reason = clean_text(reason, field="reason", required=True, minimum=MIN_RATIONALE)
    original = decision
    while original.supersedes_id is not None:  # reviews are filed on the chain's original
        original = Decision.objects.get(pk=original.supersedes_id)
    with transaction.atomic():
        original = Decision.objects.select_for_update().get(pk=original.pk)
        if original.restricted_at is not None:
            raise ApplicationError(
                "decision restricted",
                fields={
                    "decision": "this decision is restricted on the person's request: it cannot be reviewed"
                },
                status_code=409,
            )
        already = original.review_requests.filter(status__in=ReviewRequest.OPEN_STATUSES).first()
        if already is not None:
            raise ApplicationError(
                "review already open",
                fields={"decision": f"review {already.reference} of this decision is open: work on that one"},
                status_code=409,
            )
        now = timezone.now()
        due = now + timedelta(days=settings.STAFF_REVIEW_DAYS)
        request = ReviewRequest.objects.create(
            reference=_new_reference(),
            decision=original,
            kind=ReviewRequest.Kind.STAFF,
            received_at=now,
            due_at=due,
            original_due_at=due,
        )
        CaseAction.objects.create(
            request=request, kind=CaseAction.Kind.OPENED, actor=user, rationale=reason, created_at=now
        )
        audit_record_many(
            events=[
                event(
                    Actor.user(user),
                    Action.REVIEW_OPENED,
                    request,
                    # The reason stays in the case; the log holds its digest, as for rationales.
                    {
                        "kind": request.kind,
                        "due_at": due.isoformat(),
                        "reason_sha256": canonical_sha256(reason),
                    },
                )
            ]
        )
    return request
