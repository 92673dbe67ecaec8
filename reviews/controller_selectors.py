"""Reads for the integrating system (the controller's decision service, by API key): the review
requests about the decisions that key recorded, and nothing else."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db.models import QuerySet

from decisions.models import ApiKey

from .models import ReviewRequest
from .selectors import outcome_in_force


def review_requests_of_key(
    api_key: ApiKey,
    *,
    status: str = "",
    kind: str = "",
    decision: UUID | None = None,
    updated_since: datetime | None = None,
) -> QuerySet[ReviewRequest]:
    """Requests about decisions recorded with `api_key`, each annotated with `outcome_in_force`.
    `status` is one status, or "open" for the three open ones. Ordered by last change, oldest
    first: a poller pages forward with `updated_since`, and a request that changes while it pages
    moves behind the cursor, so it is seen again rather than lost."""
    qs = ReviewRequest.objects.filter(decision__api_key=api_key).annotate(
        outcome_in_force=outcome_in_force("decision")
    )
    if status == "open":
        qs = qs.filter(status__in=ReviewRequest.OPEN_STATUSES)
    elif status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    if decision is not None:
        qs = qs.filter(decision_id=decision)
    if updated_since is not None:
        qs = qs.filter(updated_at__gte=updated_since)
    return qs.order_by("updated_at", "id")
