"""What the subject's page, the subject API and the caseworker's case page show of a decision and
its explanation, and of the outcome in force and how it came to be (reviews.history)."""

from __future__ import annotations

from django.utils.translation import get_language

from decisions.models import Decision
from decisions.registry import schema_for_language, schema_of
from decisions.translations import version_texts
from explanations.contributions import contributions_labelled
from explanations.counterfactuals import NO_MODEL, has_model_to_search
from explanations.reasons import is_regression, method_sentence, principal_reasons, score_text
from explanations.render import image_svgs, runner_up_classes, waterfall_svg
from explanations.selectors import explanation_current

from .history import earlier_reviews, outcome_history
from .models import ReviewRequest

PENDING_REFRESH_SECONDS = 5


def data_rows(decision: Decision) -> list[dict]:
    """Every input with its label and the person's value, in their language, so they can spot an
    error."""
    if decision.personal_data_erased_at is not None:
        return []
    schema = schema_for_language(decision.model_version, get_language())
    return [
        {
            "name": f.name,
            "label": f.label,
            "description": f.description,
            "value": f.display_value(decision.features.get(f.name)),
            "is_image": f.type == "image",
            "mutable": f.mutable,
            "protected": f.protected,
            "monitored": f.monitored,
        }
        for f in schema.features
    ]


def score_summary(decision: Decision) -> dict | None:
    """A regression decision's score against its cut-off, rounded and in the score's unit, and
    which outcome each side of the cut-off gives. None for a classifier: its score is a
    probability the pages do not put to the person."""
    output = decision.model_version.output
    if not is_regression(output):
        return None
    below, above = output["class_labels"]
    return {
        "value": score_text(decision.score, output),
        "threshold": score_text(float(output["threshold"]), output),
        "meaning": output.get("score_meaning", ""),
        "above": above,
        "below": below,
        "favourable_when": output.get("favourable_when", "above"),
    }


def _counterfactuals_shown(cf, version, method: str) -> dict | None:
    """The stored search, with each item's score as a person reads it for a regression; for a
    version without a model here (external scores, supplied reasons), why there is none."""
    if cf is None and not has_model_to_search(framework=version.framework, explainer=method):
        cf = NO_MODEL
    if not isinstance(cf, dict):
        return None
    shown = dict(cf)
    schema = schema_for_language(version, get_language())
    shown["items"] = [
        {**item, "changes": [_change_shown(change, schema) for change in item.get("changes", [])]}
        for item in cf.get("items", [])
    ]
    if cf.get("reason") == NO_MODEL["reason"]:
        shown["no_model"] = True
    if is_regression(version.output):
        shown["items"] = [
            {**item, "score_display": score_text(item["score"], version.output)} for item in shown["items"]
        ]
    return shown


def _change_shown(change: dict, schema) -> dict:
    """One change of a counterfactual in the reader's language (it is stored in the default one)."""
    feature = next((f for f in schema.features if f.name == change.get("feature")), None)
    if feature is None or "from" not in change or "to" not in change:
        return change
    return {
        **change,
        "label": feature.label,
        "from_display": feature.display_value(change["from"]),
        "to_display": feature.display_value(change["to"]),
    }


def decision_presentation(decision: Decision) -> dict:
    """Everything the pages show of `decision` (the original the subject's link opens). Besides the
    explanation: `in_force` (the Decision whose outcome holds now), `history` (how it came to be,
    oldest first) and `how_decided` (what templates/reviews/_outcome_history.html says under
    "How it was decided"); see reviews.history.outcome_history."""
    explanation = explanation_current(decision.pk)
    version = decision.model_version
    texts = version_texts(version, get_language())
    context: dict = {
        "decision": decision,
        "version": version,
        "explanation": explanation,
        "score": score_summary(decision),
        "method_sentence": "",
        "reasons": [],
        "chart": None,
        "image": None,
        "runner_up": [],
        "counterfactuals": None,
        "data_rows": data_rows(decision),
        "pending": explanation is not None and explanation.status in ("pending", "running"),
        "refresh_seconds": PENDING_REFRESH_SECONDS,
        **outcome_history(decision),
    }
    if explanation is not None and explanation.status == "done":
        context["method_sentence"] = method_sentence(explanation.method, texts["controller"])
    if explanation is not None and explanation.status == "done" and decision.personal_data_erased_at is None:
        # Reasons and chart read the labels through this cached property; the reader's language's.
        explanation.labelled_contributions = contributions_labelled(
            schema_for_language(version, get_language()),
            decision.features or {},
            explanation.contributions or {},
        )
        context["reasons"] = principal_reasons(explanation, decision)
        if schema_of(version).is_image:
            context["image"] = image_svgs(explanation, decision)
            context["runner_up"] = runner_up_classes(decision)
        else:
            context["chart"] = waterfall_svg(explanation, decision)
        context["counterfactuals"] = _counterfactuals_shown(
            explanation.counterfactuals, version, explanation.method
        )
        context["counterfactuals_pending"] = context["counterfactuals"] is None
    return context


def case_presentation(case: ReviewRequest) -> dict:
    """What the caseworker deciding `case` sees besides decision_presentation: `earlier_reviews`,
    every other review a person decided on the same decision (what was decided, by whom, the
    rationale, when; `current` marks the one in force), so a later review works on the outcome in
    force knowing how it came to be."""
    return {"earlier_reviews": earlier_reviews(case)}
