"""Principal reasons in plain language, built from an explanation's per-feature contributions."""

from __future__ import annotations

from django.utils.translation import gettext as _

MAX_REASONS = 4


def toward_outcome_sign(explanation, decision) -> float:
    """+1 when a positive contribution pushed toward the decided outcome, -1 when against.

    Binary models are explained toward the positive class (the score); multiclass models
    toward the class they decided.
    """
    output = decision.model_version.output
    if output["type"] == "binary":
        return 1.0 if decision.outcome == output["class_labels"][1] else -1.0
    return 1.0


def principal_reasons(explanation, decision, limit: int = MAX_REASONS) -> list[dict]:
    """The contributions that weighed most toward the outcome, largest first, as sentences."""
    sign = toward_outcome_sign(explanation, decision)
    toward = [c for c in explanation.labelled_contributions if sign * c["contribution"] > 0]
    toward.sort(key=lambda c: -sign * c["contribution"])
    output = decision.model_version.output
    reasons = []
    for c in toward[:limit]:
        reasons.append({**c, "weight": sign * c["contribution"], "text": _sentence(c, decision, output)})
    return reasons


def _sentence(c: dict, decision, output: dict) -> str:
    """One plain sentence: the factor, the person's own value, and which way it weighed."""
    if output["type"] == "binary":
        return _("%(label)s: %(value)s. This weighed toward the outcome “%(outcome)s”.") % {
            "label": c["label"],
            "value": c["display_value"],
            "outcome": decision.outcome,
        }
    return _("%(label)s: the parts of the image that most resemble “%(outcome)s”.") % {
        "label": c["label"],
        "outcome": decision.outcome,
    }
