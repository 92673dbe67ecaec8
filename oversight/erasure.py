"""Erasure and restriction on a data subject's request (GDPR Art. 17 and 18).

Every decision about the subject is erased at once when the AI Act's six months of logs
(MIN_RETENTION_DAYS from the decision) have passed; a younger one is restricted instead: kept, no
longer shown to caseworkers, flagged in the auditors' exports, and erased by the retention job
(oversight.retention) on the day the six months end. Erasure blanks what retention blanks
(`erase_rows`): the features, what restates them in the explanations, and what the person wrote.

The features' commitment stays on the decision, but its key is destroyed with the features, so
it can no longer be checked against them or against guesses. Not covered: audit events written
before keyed commitments (decisions migration 0016) are append-only and keep the unsalted
sha256 of the features; a sealed idempotency response (decisions.idempotency) stays until it is
pruned after its replay window, unreadable without the client's key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from audit.models import Action
from audit.services import Actor, audit_record, canonical_sha256
from config.errors import ApplicationError
from decisions.models import MIN_RETENTION_DAYS, Decision

from .retention import erase_rows

ERASED = "erased"
RESTRICTED = "restricted"
REASON_MAX = 200
# What stays of an erased decision, for the answer: no personal value, only the record.
REMAINS = (
    "the decision's id, reference, subject reference, model version and times",
    "its outcome and score",
    "features_commitment, a keyed hash of the erased features whose key was destroyed",
    "the explanation's contribution numbers, without the person's values",
    "review requests' kind, status, dates and the reviewers' rationales",
    "the audit chain (ids and hashes)",
)
NOT_COVERED = (
    "audit events written before keyed commitments: they keep the unkeyed hash (features_sha256)",
    "a sealed Idempotency-Key response, unreadable without the client's key, until it is pruned",
)


@dataclass(frozen=True)
class DecisionErasure:
    decision: Decision
    state: str  # ERASED or RESTRICTED
    until: datetime | None  # a restricted decision's erasure date

    def body(self) -> dict:
        return {
            "decision": str(self.decision.pk),
            "decided_at": self.decision.decided_at.isoformat(),
            "state": self.state,
            "restricted_until": self.until.isoformat() if self.until else None,
            "remains": list(REMAINS) if self.state == ERASED else ["everything, restricted until then"],
        }


def subject_erase(*, subject_ref: str, actor: Actor, reason: str, now: datetime | None = None) -> list:
    """Erase or restrict every decision about `subject_ref`, in one transaction with one audit event
    (counts only). Asking again is harmless: what is erased stays erased, a restriction keeps its
    first date. Returns a DecisionErasure per decision, oldest first."""
    subject_ref, reason = (subject_ref or "").strip(), (reason or "").strip()
    errors = {}
    if not subject_ref:
        errors["subject_ref"] = "required"
    if not reason:
        errors["reason"] = "required: the ground of the request (no personal data)"
    elif len(reason) > REASON_MAX:
        errors["reason"] = f"at most {REASON_MAX} characters"
    if errors:
        raise ApplicationError("invalid erasure request", fields=errors)
    now = now or timezone.now()
    with transaction.atomic():
        decisions = list(
            Decision.objects.select_for_update()
            .filter(subject_ref=subject_ref)
            .order_by("decided_at", "id")
            .only("id", "decided_at", "personal_data_erased_at", "restricted_at")
        )
        if not decisions:
            raise ApplicationError("no decisions about this subject", status_code=404)
        legal_end = now - timedelta(days=MIN_RETENTION_DAYS)
        to_erase = [d.pk for d in decisions if d.personal_data_erased_at is None and d.decided_at < legal_end]
        to_restrict = [
            d.pk
            for d in decisions
            if d.personal_data_erased_at is None and d.decided_at >= legal_end and d.restricted_at is None
        ]
        explanations, requests = erase_rows(decision_ids=to_erase, now=now) if to_erase else (0, 0)
        Decision.objects.filter(pk__in=to_restrict).update(restricted_at=now)
        results = [
            DecisionErasure(d, ERASED, None)
            if d.personal_data_erased_at is not None or d.pk in to_erase
            else DecisionErasure(d, RESTRICTED, d.decided_at + timedelta(days=MIN_RETENTION_DAYS))
            for d in decisions
        ]
        audit_record(
            actor=actor,
            action=Action.SUBJECT_ERASURE,
            # The reference's hash: the event names the subject without holding the reference.
            object_type="subject",
            object_id=canonical_sha256(subject_ref),
            data={
                "reason": reason,
                "decisions": len(decisions),
                "erased": len(to_erase),
                "restricted": len(to_restrict),
                "already_erased": sum(d.personal_data_erased_at is not None for d in decisions),
                "explanations_erased": explanations,
                "review_requests_erased": requests,
            },
        )
    return results


def erasure_body(results: list) -> dict:
    """The answer, for the API and the page: per decision, erased or restricted until when, and
    what remains."""
    return {
        "decisions": [r.body() for r in results],
        "erased": sum(r.state == ERASED for r in results),
        "restricted": sum(r.state == RESTRICTED for r in results),
        "why_restricted": (
            "The EU AI Act (Art. 19, 26(6)) requires the logs of a high-risk system to be kept for at "
            "least six months: until then the data is restricted, then erased automatically."
        ),
        "not_covered": list(NOT_COVERED),
    }
