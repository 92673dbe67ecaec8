"""Rectify and re-decide (GDPR Art. 16 with Art. 22): the person proposes corrected values for some
of the data a decision used; a caseworker accepts or rejects each; the accepted ones are decided
again by the same model version, through the main road (checked, predicted, explained by the
worker), and the new automated decision supersedes the outcome in force. The original stays in
the ledger, superseded, so the history is still one line."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.models import Action
from audit.services import Actor, audit_record_many, canonical_sha256
from config.errors import ApplicationError
from decisions.models import Decision
from decisions.recording import DecisionInput
from decisions.referral import referral_settle
from decisions.registry import schema_of
from explanations.recording import recording_prepare_one, recording_write

from .. import emails
from ..models import CaseAction, ReviewRequest
from ..status_links import status_link
from .casework import (
    REVIEWER_ROLE,
    _claim_for,
    _lock_outcome_in_force,
    _require_caseworker,
    _require_open,
    _seconds_since_taken,
)
from .steps import MIN_RATIONALE, clean_text, event, lock, notify, request_close

MAX_CORRECTIONS = 20


def rectify_corrections_clean(*, decision: Decision, corrections: Any) -> dict[str, Any]:
    """The proposed values, checked against the decision's version: only the model's inputs (not
    a monitored field, not an image), each a valid value (FeatureSchema.validate on the features
    with the corrections merged in) and different from the value used. Errors name each field."""
    if decision.personal_data_erased_at is not None:
        raise ApplicationError(
            "data erased", fields={"corrections": "the data of this decision has been erased"}
        )
    if not isinstance(corrections, dict) or not corrections:
        raise ApplicationError(
            "no corrections", fields={"corrections": "name at least one field and the value it should have"}
        )
    if len(corrections) > MAX_CORRECTIONS:
        raise ApplicationError("too many corrections", fields={"corrections": f"at most {MAX_CORRECTIONS}"})
    schema = schema_of(decision.model_version)
    inputs = {f.name: f for f in schema.inputs if f.type != "image"}
    errors: dict[str, str] = {}
    for name in corrections:
        if name not in inputs:
            errors[str(name)] = (
                "not data the model decides on: it cannot be corrected here"
                if name in {f.name for f in schema.features}
                else "unknown field for this decision"
            )
    if not errors:
        clean, invalid = schema.validate({**decision.features, **corrections})
        errors = {name: message for name, message in invalid.items() if name in corrections}
        errors.update(
            {
                name: "this is the value already used"
                for name in corrections
                if name not in errors and clean[name] == decision.features.get(name)
            }
        )
    if errors:
        raise ApplicationError("invalid corrections", fields={"corrections": errors})
    return {name: clean[name] for name in corrections}


def review_rectify(
    *, request: ReviewRequest, user, accepted: list[str], rationale: str, expected_in_force: str | None = None
) -> ReviewRequest:
    """Accept the proposed corrections named in `accepted` and reject the others, with the reasons
    the person will read. With at least one accepted, the outcome in force is decided again by its
    model version on its features with those corrections, a new automated decision superseding it
    (its explanation queued after commit); the request closes as rectified, else as rejected."""
    _require_caseworker(user)
    rationale = clean_text(rationale, field="rationale", required=True, minimum=MIN_RATIONALE)
    with transaction.atomic():
        request = lock(request)
        _require_open(request)
        if request.kind != ReviewRequest.Kind.RECTIFY:
            raise ApplicationError(
                "not a rectification", fields={"accepted": "this request proposes no corrections"}
            )
        unknown = sorted(set(accepted) - set(request.corrections))
        if unknown:
            raise ApplicationError(
                "unknown fields", fields={"accepted": f"not proposed: {', '.join(unknown)}"}
            )
        reviewed = _lock_outcome_in_force(request, expected_in_force)
        now = timezone.now()
        _claim_for(request, user, now)
        actor = Actor.user(user)
        accepted = sorted(accepted)
        rejected = sorted(set(request.corrections) - set(accepted))
        redecided = _redecide(
            reviewed, {name: request.corrections[name] for name in accepted}, actor, request
        )
        if redecided is not None:
            # A decision still waiting for a person (a referral) never took effect: decided again
            # on the corrected data, it is replaced by the new one.
            referral_settle(decision_id=reviewed.pk, changed=True)
        request_close(
            request,
            status=ReviewRequest.Status.RECTIFIED if redecided else ReviewRequest.Status.REJECTED,
            rationale=rationale,
            now=now,
            human_decision=redecided,
        )
        outcome = {"accepted": accepted, "rejected": rejected, "role": REVIEWER_ROLE}
        if redecided is not None:
            outcome.update(
                {
                    "from": reviewed.outcome,
                    "to": redecided.outcome,
                    "decision": str(redecided.pk),
                    "supersedes": str(reviewed.pk),
                }
            )
        CaseAction.objects.create(
            request=request,
            kind=CaseAction.Kind.RECTIFIED if redecided else CaseAction.Kind.RECTIFICATION_REJECTED,
            actor=user,
            rationale=rationale,
            seconds_spent=_seconds_since_taken(request, now),
            data=outcome,
            created_at=now,
        )
        notify(emails.send_rectification, request, link=status_link(request))
        audit_record_many(
            events=[
                event(
                    actor,
                    Action.REVIEW_RECTIFIED if redecided else Action.REVIEW_RECTIFICATION_REJECTED,
                    request,
                    {**outcome, "rationale_sha256": canonical_sha256(rationale)},
                )
            ]
        )
    return request


def _redecide(reviewed: Decision, accepted: dict, actor: Actor, request: ReviewRequest) -> Decision | None:
    """The main road with the version pinned: checked, predicted and written with its pending
    explanation and its audit event, superseding `reviewed`. None when nothing was accepted.
    The person keeps the link to the original, so the new decision's token is never handed out;
    its access follows the decision it replaces."""
    if not accepted:
        return None
    if Decision.objects.filter(supersedes=reviewed).exists():  # the one-successor rule
        raise ApplicationError(
            "decision already replaced",
            fields={"accepted": "this outcome has been replaced already: review the outcome in force"},
            status_code=409,
        )
    version = reviewed.model_version
    recording = recording_prepare_one(
        item=DecisionInput(
            model=version.model.name,
            model_version=version.version,
            subject_ref=reviewed.subject_ref,
            reference=reviewed.reference,
            features={**reviewed.features, **accepted},
        ),
        actor=actor,
    )
    new = recording.recorded[0].decision
    new.supersedes = reviewed
    new.access_expires_at = reviewed.access_expires_at
    new.access_revoked_at = reviewed.access_revoked_at
    recording.events[0].data.update(
        {"supersedes": str(reviewed.pk), "rectification": request.reference, "corrected": sorted(accepted)}
    )
    recording_write(recording)
    return new
