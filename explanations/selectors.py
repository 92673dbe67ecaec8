"""Read paths of explanations, and of decisions with their explanation's status."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Prefetch, QuerySet

from decisions.models import Decision, ModelVersion
from decisions.registry import schema_of

from .models import Explanation


def decision_list() -> QuerySet[Decision]:
    """Decisions with their version and, as `current_explanations`, the current explanation's
    status (see with_current_explanation)."""
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


def explanation_current(decision_id) -> Explanation | None:
    return (
        Explanation.objects.select_related("decision__model_version__model")
        .filter(decision_id=decision_id, is_current=True)
        .first()
    )


def global_importance(model_version_id: int) -> dict:
    """Mean |SHAP| per original feature over the version's done explanations (streamed)."""
    schema = schema_of(
        ModelVersion.objects.only("id", "created_at", "feature_schema").get(pk=model_version_id)
    )
    totals: dict[str, float] = defaultdict(float)
    count = 0
    rows = (
        Explanation.objects.filter(model_version_id=model_version_id, is_current=True, status="done")
        .values_list("contributions", flat=True)
        .iterator(chunk_size=2000)
    )
    for contributions in rows:
        count += 1
        for feature, value in contributions.items():
            totals[feature] += abs(value)
    features = sorted(
        (
            {"feature": f, "label": schema[f].label, "mean_abs_contribution": total / count}
            for f, total in totals.items()
        ),
        key=lambda item: -item["mean_abs_contribution"],
    )
    return {"explained_decisions": count, "features": features}
