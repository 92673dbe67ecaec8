"""What the subject's page, the subject API and the caseworker's case page show of a decision and
its explanation."""

from __future__ import annotations

from decisions.models import Decision
from decisions.registry import schema_of
from explanations.reasons import principal_reasons
from explanations.render import image_svgs, runner_up_classes, waterfall_svg
from explanations.selectors import explanation_current

PENDING_REFRESH_SECONDS = 5


def data_rows(decision: Decision) -> list[dict]:
    """Every input with its label and the person's value, so they can spot an error."""
    if decision.personal_data_erased_at is not None:
        return []
    schema = schema_of(decision.model_version)
    return [
        {
            "name": f.name,
            "label": f.label,
            "description": f.description,
            "value": f.display_value(decision.features.get(f.name)),
            "is_image": f.type == "image",
            "mutable": f.mutable,
            "protected": f.protected,
        }
        for f in schema.features
    ]


def decision_presentation(decision: Decision) -> dict:
    explanation = explanation_current(decision.pk)
    context: dict = {
        "decision": decision,
        "version": decision.model_version,
        "explanation": explanation,
        "reasons": [],
        "chart": None,
        "image": None,
        "runner_up": [],
        "counterfactuals": None,
        "data_rows": data_rows(decision),
        "pending": explanation is not None and explanation.status in ("pending", "running"),
        "refresh_seconds": PENDING_REFRESH_SECONDS,
    }
    if explanation is not None and explanation.status == "done" and decision.personal_data_erased_at is None:
        context["reasons"] = principal_reasons(explanation, decision)
        if schema_of(decision.model_version).is_image:
            context["image"] = image_svgs(explanation, decision)
            context["runner_up"] = runner_up_classes(decision)
        else:
            context["chart"] = waterfall_svg(explanation, decision)
        cf = explanation.counterfactuals
        context["counterfactuals"] = cf if isinstance(cf, dict) else None
        context["counterfactuals_pending"] = cf is None
    return context
