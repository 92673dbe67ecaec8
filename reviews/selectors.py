"""Read paths of the Article 22 workflow, with their joins built in."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet

from decisions.auth import CASEWORKER
from decisions.models import Decision

from .models import CaseAction, ReviewRequest

QUEUE_STATUSES = ("open", "all", *ReviewRequest.Status.values)


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
