"""Read paths of the Article 22 workflow, with their joins built in."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Exists, F, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce

from decisions.auth import CASEWORKER
from decisions.models import Decision

from .models import CaseAction, ReviewRequest

QUEUE_STATUSES = ("open", "all", *ReviewRequest.Status.values)
# The reviews that decided: a person's outcome upheld or overturned, or the model's again on
# corrected data (rectified).
CLOSED_STATUSES = (
    ReviewRequest.Status.UPHELD,
    ReviewRequest.Status.OVERTURNED,
    ReviewRequest.Status.RECTIFIED,
)
CHANGING_STATUSES = (ReviewRequest.Status.OVERTURNED, ReviewRequest.Status.RECTIFIED)


def _history() -> Prefetch:
    return Prefetch("actions", queryset=CaseAction.objects.order_by("created_at", "id"))


def review_requests_of_decision(decision: Decision) -> QuerySet[ReviewRequest]:
    """The subject's own requests (only ever those of the decision their token opens)."""
    return (
        ReviewRequest.objects.filter(decision=decision)
        .select_related("human_decision")
        .prefetch_related(_history())
        .order_by("-received_at")
    )


def review_request_of_decision(decision: Decision, reference: str) -> ReviewRequest | None:
    return review_requests_of_decision(decision).filter(reference=reference).first()


def review_requests_with_history() -> QuerySet[ReviewRequest]:
    return ReviewRequest.objects.select_related(
        "decision__model_version__model", "human_decision"
    ).prefetch_related(_history())


def review_queue(
    *, model: str = "", kind: str = "", status: str = "open", assignee: str = "", user=None
) -> QuerySet[ReviewRequest]:
    """The caseworkers' queue: by due date, earliest first. `assignee` is "me", "none" or a user id.
    Each row carries `outcome_in_force`: the outcome its decision has now, after any review."""
    qs = (
        ReviewRequest.objects.select_related("decision__model_version__model", "assignee")
        .annotate(outcome_in_force=outcome_in_force("decision"))
        .order_by("due_at", "id")
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


def referred_decisions() -> QuerySet[Decision]:
    """Decisions referred before effect that no caseworker has taken yet, earliest deadline first
    (the partial index on pending decisions serves it)."""
    taken = ReviewRequest.objects.filter(
        decision=OuterRef("pk"), kind=ReviewRequest.Kind.REFERRAL, status__in=ReviewRequest.OPEN_STATUSES
    )
    return (
        Decision.objects.filter(status=Decision.Status.PENDING_REVIEW)
        .exclude(Exists(taken))
        .select_related("model_version__model")
        .only(
            "id",
            "outcome",
            "score",
            "decided_at",
            "referral_reasons",
            "review_due_at",
            "restricted_at",
            "model_version__version",
            "model_version__model__name",
        )
        .order_by("review_due_at", "id")
    )


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


def outcome_in_force(decision_path: str) -> Coalesce:
    """An annotation: the outcome in force of the decision at `decision_path` (a path to an
    original decision from the rows annotated). Every change is a review that closed as
    overturned or rectified with the decision it recorded; the history being a line, the latest of
    those holds, and without one the decision's own outcome does."""
    latest_change = (
        ReviewRequest.objects.filter(
            decision_id=OuterRef(f"{decision_path}_id"), status__in=CHANGING_STATUSES
        )
        .exclude(human_decision=None)
        .order_by("-human_decision__decided_at", "-id")
        .values("human_decision__outcome")[:1]
    )
    return Coalesce(Subquery(latest_change), F(f"{decision_path}__outcome"))


def closed_reviews_of_decision(decision: Decision) -> QuerySet[ReviewRequest]:
    """The reviews a person decided on this decision (upheld or overturned), in the order they
    were decided, with their steps and who took them."""
    return (
        ReviewRequest.objects.filter(decision=decision, status__in=CLOSED_STATUSES)
        .select_related("human_decision")
        .prefetch_related(
            Prefetch(
                "actions", queryset=CaseAction.objects.select_related("actor").order_by("created_at", "id")
            )
        )
        .order_by("closed_at", "id")
    )


def contact_of(request: ReviewRequest) -> ReviewRequest | None:
    """The request whose e-mail address reaches the person about `request`: its own, or else the
    newest one they gave on another request about the same decision. None when no address is on
    file (never given, or erased when retention ended)."""
    if request.contact_email:
        return request
    return (
        ReviewRequest.objects.filter(decision_id=request.decision_id)
        .exclude(contact_email="")
        .order_by("-received_at", "-id")
        .first()
    )
