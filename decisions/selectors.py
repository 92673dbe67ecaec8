"""Read paths of the ledger, scoped to who asks, with their joins built in."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from explanations.models import Explanation

from .models import Decision, ModelVersion
from .services import hash_token


def decision_list() -> QuerySet[Decision]:
    return Decision.objects.select_related("model_version__model").prefetch_related(
        Prefetch(
            "explanations",
            queryset=Explanation.objects.filter(is_current=True).only("id", "status", "decision_id"),
            to_attr="current_explanations",
        )
    )


def with_current_explanation(decisions):
    for d in decisions:
        current = getattr(d, "current_explanations", None)
        d.current_explanation = current[0] if current else None
    return decisions


def decision_for_token(token: str) -> Decision | None:
    """The decision a subject's access link opens, or None when wrong, expired or revoked."""
    if not token or len(token) > 128:
        return None
    decision = (
        Decision.objects.select_related("model_version__model")
        .filter(access_token_hash=hash_token(token))
        .first()
    )
    if decision is None or decision.access_revoked_at is not None:
        return None
    if decision.access_expires_at <= timezone.now():
        return None
    return decision


def model_version_list() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.select_related("model").defer("artifact", "background")
