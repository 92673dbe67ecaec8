from __future__ import annotations

from collections import defaultdict

from .models import Explanation


def explanation_current(decision_id) -> Explanation | None:
    return (
        Explanation.objects.select_related("decision__model_version__model")
        .filter(decision_id=decision_id, is_current=True)
        .first()
    )


def global_importance(model_version_id: int) -> dict:
    """Mean |SHAP| per original feature over the version's done explanations (streamed)."""
    from decisions.models import ModelVersion
    from decisions.predictors import schema_of

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
