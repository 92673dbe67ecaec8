"""The Article 22 workflow: a data subject's requests about a decision and the caseworker's review.

Services (write paths) run in one transaction and write their audit event LAST; e-mails to the
subject leave after commit. Selectors (read paths) return querysets with their joins built in.

Deadlines follow GDPR Art. 12(3): an answer is due one month after receipt; the controller may
extend that by at most two further months where necessary, telling the person why within the
first month.
"""

from __future__ import annotations

import calendar
import secrets
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone, translation

from audit.models import Action
from audit.services import Actor, EventSpec, audit_record, audit_record_many
from config.errors import ApplicationError

from . import emails
from .auth import CASEWORKER, has_role
from .models import CaseAction, Decision, ReviewRequest
from .services import canonical_sha256, hash_token

MAX_TEXT = 5000
MIN_RATIONALE = 20  # a written rationale is a few words at least, not "ok"
MAX_EXTENSION_MONTHS = 2
# Rubber-stamping (AI Act Art. 14(4)(b), automation bias): near-total agreement, decided fast,
# over enough cases for the rate to mean something.
BIAS_MIN_CASES = 10
BIAS_AGREEMENT = 0.95
BIAS_MEDIAN_SECONDS = 120
STATUS_LINK_SALT = "rationale.review-status"
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over the phone


# ---------------------------------------------------------------------------- dates
def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` calendar months later, or the month's last day when it has fewer
    (31 January + 1 month = 28/29 February), as Art. 12(3)'s "one month" is read."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def due_date_for(received_at: datetime) -> datetime:
    return add_months(received_at, 1)


def can_extend(request: ReviewRequest, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return (
        request.is_open and request.extension_months < MAX_EXTENSION_MONTHS and now <= request.original_due_at
    )


# ---------------------------------------------------------------------------- helpers
def _new_reference() -> str:
    return "R-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


def _clean_text(value: str | None, *, field: str, required: bool, minimum: int = 1) -> str:
    text = (value or "").strip()
    if required and len(text) < minimum:
        message = "this field is required" if minimum <= 1 else f"write at least {minimum} characters"
        raise ApplicationError("missing text", fields={field: message})
    if len(text) > MAX_TEXT:
        raise ApplicationError("text too long", fields={field: f"at most {MAX_TEXT} characters"})
    return text


def _require_caseworker(user) -> None:
    if not has_role(user, CASEWORKER):
        raise ApplicationError("caseworkers only", fields={"user": "not a caseworker"}, status_code=403)


def _lock(request: ReviewRequest) -> ReviewRequest:
    """Re-read the request under a row lock: two caseworkers acting at once serialise here."""
    return (
        ReviewRequest.objects.select_for_update().select_related("decision__model_version").get(pk=request.pk)
    )


def _require_open(request: ReviewRequest) -> None:
    if not request.is_open:
        raise ApplicationError(
            "request already decided", fields={"status": f"request is {request.status}"}, status_code=409
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


def _event(actor: Actor, action: str, request: ReviewRequest, data: dict | None = None) -> EventSpec:
    return EventSpec(
        actor=actor,
        action=action,
        object_type="review_request",
        object_id=str(request.pk),
        data={"decision": str(request.decision_id), "reference": request.reference, **(data or {})},
    )


def status_link(request: ReviewRequest) -> str:
    """A link to this request's status page, for e-mails after the first.

    The subject's access token is stored only as a hash, so later e-mails cannot carry it; this
    link is signed (not stored), opens this one request only, and stops working when the
    decision's access expires or is revoked.
    """
    from django.urls import reverse

    signed = signing.dumps({"r": request.pk}, salt=STATUS_LINK_SALT, compress=True)
    path = reverse("decisions:subject-request-status", kwargs={"signed": signed})
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def access_link(token: str) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/access/{token}/"


def _notify(send, request: ReviewRequest, **kwargs) -> None:
    if request.contact_email:
        transaction.on_commit(partial(send, request_id=request.pk, **kwargs))


# ---------------------------------------------------------------------------- subject's services
def review_request_create(
    *,
    decision: Decision,
    kind: str,
    statement: str = "",
    grounds: str = "",
    contact_email: str = "",
    access_token: str | None = None,
    language: str | None = None,
) -> ReviewRequest:
    """A data subject asks about their decision: their view, a contest, or a person to decide.

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
    if errors:
        raise ApplicationError("invalid request", fields=errors)
    statement = _clean_text(
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
                    link=access_link(access_token) if access_token else status_link(request),
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
                "statement_sha256": canonical_sha256(statement),
            },
        )
    return request


def review_subject_reply(*, request: ReviewRequest, statement: str) -> ReviewRequest:
    """The subject answers a caseworker's question; the case goes back to review."""
    statement = _clean_text(statement, field="statement", required=True)
    with transaction.atomic():
        request = _lock(request)
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
                _event(
                    Actor.subject(request.decision_id),
                    Action.REVIEW_SUBJECT_REPLIED,
                    request,
                    {"statement_sha256": canonical_sha256(statement)},
                )
            ]
        )
    return request


# ---------------------------------------------------------------------------- caseworker's services
def review_take(*, request: ReviewRequest, user) -> ReviewRequest:
    _require_caseworker(user)
    with transaction.atomic():
        request = _lock(request)
        _require_open(request)
        if request.assignee_id == user.pk:
            return request
        _claim_for(request, user, timezone.now())
        request.save(update_fields=["assignee", "assigned_at", "status", "updated_at"])
        CaseAction.objects.create(
            request=request, kind=CaseAction.Kind.TAKEN, actor=user, created_at=request.assigned_at
        )
        audit_record_many(events=[_event(Actor.user(user), Action.REVIEW_TAKEN, request)])
    return request


def review_request_information(*, request: ReviewRequest, user, question: str) -> ReviewRequest:
    """Ask the subject for information; they answer on their page. The deadline keeps running."""
    _require_caseworker(user)
    question = _clean_text(question, field="question", required=True, minimum=MIN_RATIONALE)
    with transaction.atomic():
        request = _lock(request)
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
        _notify(emails.send_info_request, request, link=status_link(request))
        audit_record_many(events=[_event(Actor.user(user), Action.REVIEW_INFO_REQUESTED, request)])
    return request


def review_extend(*, request: ReviewRequest, user, months: int, reason: str) -> ReviewRequest:
    """Extend the deadline (Art. 12(3)): by at most two further months in all, only while the first
    month runs, with the reasons, which the subject is told."""
    _require_caseworker(user)
    reason = _clean_text(reason, field="reason", required=True, minimum=MIN_RATIONALE)
    if months not in (1, 2):
        raise ApplicationError("invalid extension", fields={"months": "extend by one or two months"})
    with transaction.atomic():
        request = _lock(request)
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
        _notify(emails.send_extension, request, link=status_link(request))
        audit_record_many(
            events=[
                _event(
                    Actor.user(user),
                    Action.REVIEW_EXTENDED,
                    request,
                    {"months": months, "due_at": request.due_at.isoformat()},
                )
            ]
        )
    return request


def _seconds_since_taken(request: ReviewRequest, now: datetime) -> float:
    return max((now - (request.assigned_at or now)).total_seconds(), 0.0)


def review_uphold(*, request: ReviewRequest, user, rationale: str) -> ReviewRequest:
    """A person confirms the decision, with the reasons the subject will read."""
    _require_caseworker(user)
    rationale = _clean_text(rationale, field="rationale", required=True, minimum=MIN_RATIONALE)
    with transaction.atomic():
        request = _lock(request)
        _require_open(request)
        now = timezone.now()
        _claim_for(request, user, now)
        reviewed = effective_decision(request.decision)
        request.status = ReviewRequest.Status.UPHELD
        request.rationale = rationale
        request.closed_at = now
        request.save(
            update_fields=["assignee", "assigned_at", "status", "rationale", "closed_at", "updated_at"]
        )
        CaseAction.objects.create(
            request=request,
            kind=CaseAction.Kind.UPHELD,
            actor=user,
            rationale=rationale,
            agrees_with_model=reviewed.kind == Decision.Kind.AUTOMATED,
            seconds_spent=_seconds_since_taken(request, now),
            data={"outcome": reviewed.outcome, "decision": str(reviewed.pk)},
            created_at=now,
        )
        _notify(emails.send_outcome, request, link=status_link(request))
        audit_record_many(
            events=[
                _event(
                    Actor.user(user),
                    Action.REVIEW_UPHELD,
                    request,
                    {"outcome": reviewed.outcome, "rationale_sha256": canonical_sha256(rationale)},
                )
            ]
        )
    return request


def review_overturn(*, request: ReviewRequest, user, new_outcome: str, rationale: str) -> ReviewRequest:
    """A person changes the decision: a new Decision of kind HUMAN supersedes the one reviewed.

    The ledger keeps both; the subject's link to the original shows the new outcome.
    """
    _require_caseworker(user)
    rationale = _clean_text(rationale, field="rationale", required=True, minimum=MIN_RATIONALE)
    with transaction.atomic():
        request = _lock(request)
        _require_open(request)
        reviewed = effective_decision(request.decision)
        version = reviewed.model_version
        labels = version.output["class_labels"]
        if new_outcome not in labels:
            raise ApplicationError("unknown outcome", fields={"new_outcome": f"must be one of {labels}"})
        if new_outcome == reviewed.outcome:
            raise ApplicationError(
                "same outcome",
                fields={"new_outcome": "that is the current outcome: uphold the decision instead"},
            )
        now = timezone.now()
        _claim_for(request, user, now)
        favourable_label = version.output.get("favourable_label")
        human = Decision.objects.create(
            model_version=version,
            kind=Decision.Kind.HUMAN,
            supersedes=reviewed,
            subject_ref=reviewed.subject_ref,
            reference=reviewed.reference,
            features=reviewed.features,
            features_sha256=reviewed.features_sha256,
            # The model's score is kept for the record; the outcome is the person's.
            score=reviewed.score,
            outcome=new_outcome,
            favourable=None if favourable_label is None else new_outcome == favourable_label,
            decided_at=now,
            # The subject keeps using the link to the original; this token is never handed out.
            access_token_hash=hash_token(secrets.token_urlsafe(24)),
            access_expires_at=reviewed.access_expires_at,
            access_revoked_at=reviewed.access_revoked_at,
        )
        request.status = ReviewRequest.Status.OVERTURNED
        request.rationale = rationale
        request.closed_at = now
        request.human_decision = human
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
        CaseAction.objects.create(
            request=request,
            kind=CaseAction.Kind.OVERTURNED,
            actor=user,
            rationale=rationale,
            agrees_with_model=False if reviewed.kind == Decision.Kind.AUTOMATED else None,
            seconds_spent=_seconds_since_taken(request, now),
            data={"from": reviewed.outcome, "to": new_outcome, "decision": str(human.pk)},
            created_at=now,
        )
        _notify(emails.send_outcome, request, link=status_link(request))
        actor = Actor.user(user)
        audit_record_many(
            events=[
                EventSpec(
                    actor=actor,
                    action=Action.DECISION_RECORDED,
                    object_type="decision",
                    object_id=str(human.pk),
                    data={
                        "kind": Decision.Kind.HUMAN,
                        "supersedes": str(reviewed.pk),
                        "model_version": human.model_version_id,
                        "features_sha256": human.features_sha256,
                        "outcome": new_outcome,
                    },
                ),
                _event(
                    actor,
                    Action.REVIEW_OVERTURNED,
                    request,
                    {
                        "from": reviewed.outcome,
                        "to": new_outcome,
                        "human_decision": str(human.pk),
                        "rationale_sha256": canonical_sha256(rationale),
                    },
                ),
            ]
        )
    return request


# ---------------------------------------------------------------------------- access and erasure
def subject_access_revoke(*, decision: Decision, actor: Actor) -> Decision:
    """Withdraw the subject's link (and the status links of its requests, which check it)."""
    with transaction.atomic():
        now = timezone.now()
        changed = (
            Decision.objects.filter(Q(pk=decision.pk) | Q(supersedes=decision.pk))
            .filter(access_revoked_at__isnull=True)
            .update(access_revoked_at=now)
        )
        decision.refresh_from_db(fields=["access_revoked_at"])
        if changed:
            audit_record(
                actor=actor,
                action=Action.SUBJECT_ACCESS_REVOKED,
                object_type="decision",
                object_id=decision.pk,
            )
    return decision


def reviews_erase_personal_data(*, decision_ids) -> int:
    """Blank what subjects wrote (statements, replies, e-mail addresses) on the requests of these
    decisions, when retention ends. Reviewers' rationales stay: they are the controller's record.
    Returns the number of requests erased."""
    with transaction.atomic():
        decision_ids = list(decision_ids)
        replies = CaseAction.objects.filter(
            request__decision_id__in=decision_ids, kind=CaseAction.Kind.SUBJECT_REPLIED
        ).exclude(rationale="")
        requests = list(
            ReviewRequest.objects.filter(decision_id__in=decision_ids)
            .filter(~Q(statement="") | ~Q(contact_email="") | Q(pk__in=replies.values("request_id")))
            .order_by("pk")
            .values_list("pk", "decision_id", "reference")
        )
        ids = [pk for pk, _, _ in requests]
        ReviewRequest.objects.filter(pk__in=ids).update(
            statement="", contact_email="", updated_at=timezone.now()
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


# ---------------------------------------------------------------------------- selectors
def effective_decision(decision: Decision) -> Decision:
    """The decision in force: the newest human decision that supersedes this one, or itself."""
    current = decision
    for _ in range(50):  # a chain of reviews is short; the bound guards against a cycle
        newer = (
            Decision.objects.select_related("model_version__model")
            .filter(supersedes=current)
            .order_by("-decided_at")
            .first()
        )
        if newer is None:
            return current
        current = newer
    return current


def review_requests_of_decision(decision: Decision) -> QuerySet[ReviewRequest]:
    """The subject's own requests (only ever those of the decision their token opens)."""
    return (
        ReviewRequest.objects.filter(decision=decision)
        .select_related("human_decision")
        .prefetch_related(Prefetch("actions", queryset=CaseAction.objects.order_by("created_at", "id")))
        .order_by("-received_at")
    )


def review_request_of_decision(decision: Decision, reference: str) -> ReviewRequest | None:
    return review_requests_of_decision(decision).filter(reference=reference).first()


def review_requests_of_decision_qs() -> QuerySet[ReviewRequest]:
    return ReviewRequest.objects.select_related(
        "decision__model_version__model", "human_decision"
    ).prefetch_related(Prefetch("actions", queryset=CaseAction.objects.order_by("created_at", "id")))


def review_request_from_status_link(signed: str) -> ReviewRequest | None:
    """The request a signed status link opens, or None when forged, or its decision's access ended."""
    try:
        payload = signing.loads(signed, salt=STATUS_LINK_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("r"), int):
        return None
    request = review_requests_of_decision_qs().filter(pk=payload["r"]).first()
    if request is None:
        return None
    decision = request.decision
    if decision.access_revoked_at is not None or decision.access_expires_at <= timezone.now():
        return None
    return request


QUEUE_STATUSES = ("open", "all", *ReviewRequest.Status.values)


def review_queue(
    *, model: str = "", kind: str = "", status: str = "open", assignee: str = "", user=None
) -> QuerySet[ReviewRequest]:
    """The caseworkers' queue: by due date, earliest first. `assignee` is "me", "none" or a user id."""
    qs = ReviewRequest.objects.select_related("decision__model_version__model", "assignee").order_by(
        "due_at", "id"
    )
    if status == "open" or not status:
        qs = qs.filter(status__in=ReviewRequest.OPEN_STATUSES)
    elif status != "all":
        qs = qs.filter(status=status)
    if model:
        qs = qs.filter(decision__model_version__model__name=model)
    if kind:
        qs = qs.filter(kind=kind)
    if assignee == "me" and user is not None:
        qs = qs.filter(assignee=user)
    elif assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif assignee.isdigit():
        qs = qs.filter(assignee_id=int(assignee))
    return qs


def review_case(reference: str) -> ReviewRequest | None:
    return (
        ReviewRequest.objects.select_related("decision__model_version__model", "assignee", "human_decision")
        .prefetch_related(
            Prefetch(
                "actions", queryset=CaseAction.objects.select_related("actor").order_by("created_at", "id")
            )
        )
        .filter(reference=reference)
        .first()
    )


def other_requests_of_decision(request: ReviewRequest) -> QuerySet[ReviewRequest]:
    return (
        ReviewRequest.objects.filter(decision_id=request.decision_id)
        .exclude(pk=request.pk)
        .order_by("received_at")
    )


def caseworkers() -> QuerySet:
    return get_user_model().objects.filter(groups__name=CASEWORKER, is_active=True).order_by("username")


@dataclass(frozen=True)
class ReviewerSignals:
    user_id: int
    username: str
    cases: int
    upheld: int
    overturned: int
    agreement_rate: float | None
    median_seconds: float | None
    rubber_stamping: bool


def automation_bias_signals() -> list[ReviewerSignals]:
    """Per caseworker: how often they agree with the model and how long they take per case.

    Flags rubber-stamping (AI Act Art. 14(4)(b)): at least BIAS_MIN_CASES decided, agreement above
    BIAS_AGREEMENT and a median below BIAS_MEDIAN_SECONDS from taking a case to deciding it.
    """
    rows = (
        CaseAction.objects.filter(kind__in=[CaseAction.Kind.UPHELD, CaseAction.Kind.OVERTURNED])
        .exclude(actor=None)
        .values_list("actor_id", "actor__username", "kind", "agrees_with_model", "seconds_spent")
        .order_by("actor__username")
    )
    per_user: dict[int, dict] = {}
    for actor_id, username, kind, agrees, seconds in rows:
        entry = per_user.setdefault(
            actor_id, {"username": username, "upheld": 0, "overturned": 0, "agree": [], "seconds": []}
        )
        entry["upheld" if kind == CaseAction.Kind.UPHELD else "overturned"] += 1
        if agrees is not None:
            entry["agree"].append(agrees)
        if seconds is not None:
            entry["seconds"].append(seconds)
    out = []
    for actor_id, e in per_user.items():
        cases = e["upheld"] + e["overturned"]
        rate = sum(e["agree"]) / len(e["agree"]) if e["agree"] else None
        median = statistics.median(e["seconds"]) if e["seconds"] else None
        flagged = (
            cases >= BIAS_MIN_CASES
            and rate is not None
            and rate > BIAS_AGREEMENT
            and median is not None
            and median < BIAS_MEDIAN_SECONDS
        )
        out.append(
            ReviewerSignals(
                user_id=actor_id,
                username=e["username"],
                cases=cases,
                upheld=e["upheld"],
                overturned=e["overturned"],
                agreement_rate=rate,
                median_seconds=median,
                rubber_stamping=flagged,
            )
        )
    return sorted(out, key=lambda s: (not s.rubber_stamping, s.username))


def is_overdue(request: ReviewRequest, now: datetime | None = None) -> bool:
    return request.is_open and request.due_at < (now or timezone.now())


def days_left(request: ReviewRequest, now: datetime | None = None) -> int:
    return (request.due_at - (now or timezone.now())) // timedelta(days=1)
