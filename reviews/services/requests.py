"""The data subject's side: asking about a decision, answering a caseworker's question, and the
erasure of what they wrote when retention ends."""

from __future__ import annotations

import secrets
from functools import partial

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation

from audit.models import Action
from audit.services import Actor, EventSpec, audit_record, audit_record_many
from config.errors import ApplicationError
from decisions.commitments import keyed_commitment
from decisions.models import Decision
from decisions.subject_access import access_url

from .. import emails
from ..deadlines import due_date_for
from ..models import CaseAction, ReviewRequest
from ..status_links import status_link
from .rectify import rectify_corrections_clean
from .steps import clean_text, event, lock

_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over the phone


def _new_reference() -> str:
    return "R-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


def review_request_create(
    *,
    decision: Decision,
    kind: str,
    statement: str = "",
    grounds: str = "",
    contact_email: str = "",
    access_token: str | None = None,
    language: str | None = None,
    corrections: dict | None = None,
) -> ReviewRequest:
    """A data subject asks about their decision: their view, a contest, a person to decide, or
    to correct data it used (`corrections`, {feature: value}: reviews.services.rectify).

    `access_token` is the token the subject came with; it is used only to put their link in the
    receipt e-mail and never stored.
    """
    if kind not in ReviewRequest.Kind.values:
        raise ApplicationError(
            "unknown request", fields={"kind": f"must be one of {ReviewRequest.Kind.values}"}
        )
    errors = {}
    if kind == ReviewRequest.Kind.CONTEST and grounds not in ReviewRequest.Grounds.values:
        errors["grounds"] = "choose the grounds on which you contest the decision"
    if kind != ReviewRequest.Kind.CONTEST and grounds:
        errors["grounds"] = "grounds are given only when contesting"
    if kind != ReviewRequest.Kind.RECTIFY and corrections:
        errors["corrections"] = "corrections are proposed only with a request to correct data"
    if errors:
        raise ApplicationError("invalid request", fields=errors)
    if kind == ReviewRequest.Kind.RECTIFY:
        corrections = rectify_corrections_clean(decision=decision, corrections=corrections)
    statement = clean_text(
        statement, field="statement", required=kind in (ReviewRequest.Kind.VIEW, ReviewRequest.Kind.CONTEST)
    )
    contact_email = (contact_email or "").strip()
    if contact_email:
        try:
            validate_email(contact_email)
        except ValidationError:
            raise ApplicationError(
                "invalid e-mail", fields={"contact_email": "not a valid e-mail address"}
            ) from None
    with transaction.atomic():
        decision = Decision.objects.select_for_update().get(pk=decision.pk)
        duplicate = decision.review_requests.filter(kind=kind, status__in=ReviewRequest.OPEN_STATUSES).first()
        if duplicate is not None:
            raise ApplicationError(
                "request already open",
                fields={"kind": f"you already have an open request of this kind ({duplicate.reference})"},
                status_code=409,
            )
        now = timezone.now()
        due = due_date_for(now)
        request = ReviewRequest.objects.create(
            reference=_new_reference(),
            decision=decision,
            kind=kind,
            grounds=grounds,
            statement=statement,
            corrections=corrections or {},
            contact_email=contact_email,
            received_at=now,
            due_at=due,
            original_due_at=due,
            language=(language or translation.get_language() or "en")[:8],
        )
        CaseAction.objects.create(request=request, kind=CaseAction.Kind.RECEIVED, created_at=now)
        if contact_email:
            transaction.on_commit(
                partial(
                    emails.send_receipt,
                    request_id=request.pk,
                    link=access_url(access_token) if access_token else status_link(request),
                )
            )
        audit_record(
            actor=Actor.subject(decision.pk),
            action=Action.REVIEW_REQUESTED,
            object_type="review_request",
            object_id=request.pk,
            data={
                "decision": str(decision.pk),
                "reference": request.reference,
                "kind": kind,
                "grounds": grounds,
                "due_at": due.isoformat(),
                **_statement_commitment(decision, statement),
                # Which fields, not their values: those are personal data.
                **({"corrections": sorted(corrections)} if corrections else {}),
            },
        )
    return request


def review_subject_reply(*, request: ReviewRequest, statement: str) -> ReviewRequest:
    """The subject answers a caseworker's question; the case goes back to review."""
    statement = clean_text(statement, field="statement", required=True)
    with transaction.atomic():
        request = lock(request)
        if request.status != ReviewRequest.Status.INFO_REQUESTED:
            raise ApplicationError(
                "no question open", fields={"statement": "nothing was asked on this request"}, status_code=409
            )
        now = timezone.now()
        request.status = ReviewRequest.Status.IN_REVIEW
        request.save(update_fields=["status", "updated_at"])
        CaseAction.objects.create(
            request=request, kind=CaseAction.Kind.SUBJECT_REPLIED, rationale=statement, created_at=now
        )
        audit_record_many(
            events=[
                event(
                    Actor.subject(request.decision_id),
                    Action.REVIEW_SUBJECT_REPLIED,
                    request,
                    _statement_commitment(request.decision, statement),
                )
            ]
        )
    return request


def _statement_commitment(decision: Decision, statement: str) -> dict:
    """What the audit event keeps of the person's words: a commitment under the decision's key,
    which erasure destroys with the words (decisions.commitments). Nothing once the key is gone."""
    if not decision.features_key:
        return {}
    return {"statement_commitment": keyed_commitment(key=decision.features_key, value=statement)}


def reviews_erase_personal_data(*, decision_ids) -> int:
    """Blank what subjects wrote (statements, replies, proposed corrections, e-mail addresses) on the requests of these
    decisions, when retention ends. Reviewers' rationales stay: they are the controller's record.
    Returns the number of requests erased."""
    with transaction.atomic():
        decision_ids = list(decision_ids)
        replies = CaseAction.objects.filter(
            request__decision_id__in=decision_ids, kind=CaseAction.Kind.SUBJECT_REPLIED
        ).exclude(rationale="")
        requests = list(
            ReviewRequest.objects.filter(decision_id__in=decision_ids)
            .filter(
                ~Q(statement="")
                | ~Q(contact_email="")
                | ~Q(corrections={})
                | Q(pk__in=replies.values("request_id"))
            )
            .order_by("pk")
            .values_list("pk", "decision_id", "reference")
        )
        ids = [pk for pk, _, _ in requests]
        ReviewRequest.objects.filter(pk__in=ids).update(
            statement="", contact_email="", corrections={}, updated_at=timezone.now()
        )
        replies.update(rationale="")
        if requests:
            audit_record_many(
                events=[
                    EventSpec(
                        actor=Actor.system("retention"),
                        action=Action.REVIEW_PERSONAL_DATA_ERASED,
                        object_type="review_request",
                        object_id=str(pk),
                        data={"decision": str(decision_id), "reference": reference},
                    )
                    for pk, decision_id, reference in requests
                ]
            )
    return len(requests)
