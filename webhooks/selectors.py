"""Reads of the webhook API, each scoped to the API key asking, and the figures /metrics shows."""

from __future__ import annotations

from django.db.models import Count, Min, Prefetch, Q, QuerySet
from django.utils import timezone

from decisions.models import ApiKey

from .models import Attempt, Delivery, Endpoint


def endpoint_list(*, api_key: ApiKey) -> QuerySet[Endpoint]:
    """The key's own endpoints: another key's are never found (a 404, not a 403)."""
    return Endpoint.objects.filter(api_key=api_key).order_by("id")


def delivery_list(*, endpoint: Endpoint, status: str | None = None) -> QuerySet[Delivery]:
    deliveries = Delivery.objects.filter(endpoint=endpoint)
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries


def delivery_of_key(*, api_key: ApiKey, with_attempts: bool = False) -> QuerySet[Delivery]:
    """Deliveries to the key's own endpoints (with the endpoint, and every attempt if asked)."""
    deliveries = Delivery.objects.filter(endpoint__api_key=api_key).select_related("endpoint")
    if with_attempts:
        deliveries = deliveries.prefetch_related(
            Prefetch("attempt_rows", queryset=Attempt.objects.order_by("id"))
        )
    return deliveries


def delivery_figures() -> dict:
    """Deliveries by status, how many are due now (the backlog) and since when the oldest of them
    waits, in one query."""
    now = timezone.now()
    due = Q(status__in=Delivery.DUE_STATUSES, next_attempt_at__lte=now, endpoint__enabled=True)
    counts = Delivery.objects.aggregate(
        **{status: Count("id", filter=Q(status=status)) for status in Delivery.Status.values},
        due=Count("id", filter=due),
        oldest_due=Min("next_attempt_at", filter=due),
    )
    oldest = counts["oldest_due"]
    return {
        "by_status": {s: counts[s] for s in Delivery.Status.values},
        "due": counts["due"],
        "oldest_due_seconds": (now - oldest).total_seconds() if oldest else 0.0,
    }
