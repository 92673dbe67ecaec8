"""Principal reasons in plain language, built from an explanation's per-feature contributions;
a regression's score and its changes as a person reads them; and one sentence on how the
explanation was produced."""

from __future__ import annotations

import math

from django.utils.formats import number_format
from django.utils.translation import gettext as _

MAX_REASONS = 4
# An explanation counts as being in the score's own units when its base value plus its
# contributions give the decision's score to within this share of the score's scale.
SCORE_UNITS_TOLERANCE = 1e-3


def is_regression(output: dict) -> bool:
    return output.get("type") == "regression"


def toward_outcome_sign(explanation, decision) -> float:
    """+1 when a positive contribution pushed toward the decided outcome, -1 when against.

    Binary models are explained toward the positive class (the score) and a regression is
    explained in its score, whose upper side (at or above the cut-off) is the second label;
    multiclass models toward the class they decided.
    """
    output = decision.model_version.output
    if output["type"] in ("binary", "regression"):
        return 1.0 if decision.outcome == output["class_labels"][1] else -1.0
    return 1.0


def in_score_units(explanation, decision) -> bool:
    """True for a regression whose explanation adds up to the decision's own score, so each
    contribution can be read in the score's units ("raised your score by 23 points"). A
    model explained on another scale (a log link's margin) is not, and is shown without units."""
    if not is_regression(decision.model_version.output) or explanation.base_value is None:
        return False
    total = float(explanation.base_value) + sum(float(v) for v in (explanation.contributions or {}).values())
    scale = max(1.0, abs(float(decision.score)), abs(float(decision.model_version.output["threshold"])))
    return abs(total - float(decision.score)) <= SCORE_UNITS_TOLERANCE * scale


# ---------------------------------------------------------------------------- numbers
def score_decimals(output: dict) -> int:
    """Decimals that show a regression's scores to three significant digits at the scale of its
    cut-off: none for a 650-point cut-off, three for a cut-off of 0.5."""
    reference = abs(float(output.get("threshold") or 0.0)) or 1.0
    return min(6, max(0, 2 - math.floor(math.log10(reference))))


def score_number(value: float, output: dict, *, change: bool = False) -> str:
    """A score rounded for a person, in the active language's number format, never rounded onto
    the other side of the cut-off (149.99 against 150 stays "149.99", and the cut-off itself is
    shown as it is); with `change`, a change of the score, never shown as 0 unless it is."""
    value = float(value)
    decimals = score_decimals(output)
    if change:
        if value != 0 and round(abs(value), decimals) == 0:
            decimals = min(6, -math.floor(math.log10(abs(value))))
    elif output.get("threshold") is not None:
        threshold = float(output["threshold"])
        while decimals < 6 and (
            (round(value, decimals) >= threshold) != (value >= threshold)
            or (value == threshold and round(value, decimals) != threshold)
        ):
            decimals += 1
    return number_format(round(value, decimals), decimal_pos=decimals)


def score_text(value: float, output: dict, *, change: bool = False) -> str:
    """score_number with the score's unit ("612 points") when the version names one."""
    unit = str(output.get("score_unit") or "")
    return f"{score_number(value, output, change=change)} {unit}".strip()


# ---------------------------------------------------------------------------- reasons
def principal_reasons(explanation, decision, limit: int = MAX_REASONS) -> list[dict]:
    """The contributions that weighed most toward the outcome, largest first, as sentences."""
    sign = toward_outcome_sign(explanation, decision)
    toward = [c for c in explanation.labelled_contributions if sign * c["contribution"] > 0]
    toward.sort(key=lambda c: -sign * c["contribution"])
    output = decision.model_version.output
    units = in_score_units(explanation, decision)
    reasons = []
    for c in toward[:limit]:
        reasons.append(
            {**c, "weight": sign * c["contribution"], "text": _sentence(c, decision, output, units)}
        )
    return reasons


def _sentence(c: dict, decision, output: dict, units: bool) -> str:
    """One plain sentence: the factor, the person's own value, and which way it weighed (for a
    regression explained in its score: by how much it raised or lowered the score)."""
    if units:
        values = {
            "label": c["label"],
            "value": c["display_value"],
            "amount": score_text(abs(c["contribution"]), output, change=True),
        }
        if c["contribution"] > 0:
            return _("%(label)s: %(value)s. This raised your score by %(amount)s.") % values
        return _("%(label)s: %(value)s. This lowered your score by %(amount)s.") % values
    if output["type"] in ("binary", "regression"):
        return _("%(label)s: %(value)s. This weighed toward the outcome “%(outcome)s”.") % {
            "label": c["label"],
            "value": c["display_value"],
            "outcome": decision.outcome,
        }
    return _("%(label)s: the parts of the image that most resemble “%(outcome)s”.") % {
        "label": c["label"],
        "outcome": decision.outcome,
    }


# ---------------------------------------------------------------------------- method
def method_sentence(method: str, controller: str) -> str:
    """How the explanation was produced, in one plain sentence: exact, estimated by sampling
    (so small effects may be noise), or supplied by the controller and only checked here."""
    sentences = {
        "tree": _(
            "These reasons were computed exactly from the model's decision trees; together they add "
            "up to the result."
        ),
        "linear": _(
            "These reasons were computed exactly from the model's weights; together they add up to "
            "the result."
        ),
        "exact": _(
            "These reasons were computed exactly from the model by trying every combination of your "
            "details; together they add up to the result."
        ),
        "kernel": _(
            "These reasons were estimated by running the model on a sample of combinations of your "
            "details with typical ones; they are approximate, so small effects may be noise."
        ),
        "permutation": _(
            "These reasons were estimated by running the model with your details swapped in, in a "
            "sample of orders; they are approximate, so small effects may be noise."
        ),
        "partition": _(
            "These reasons were estimated by running the model on a sample of versions of the image "
            "with parts of it hidden; they are approximate, so small effects may be noise."
        ),
        "deep": _(
            "These reasons were estimated from the inner workings of the model's neural network; "
            "they are approximate, so small effects may be noise."
        ),
        "gradient": _(
            "These reasons were estimated from how the model responds at a sample of points between "
            "typical inputs and yours; they are approximate, so small effects may be noise."
        ),
    }
    if method == "supplied":
        return _(
            "These reasons were supplied by %(controller)s from its own scoring system; Rationale "
            "checked that they add up to the score but did not compute them."
        ) % {"controller": controller or _("the organisation")}
    return sentences.get(method, "")
