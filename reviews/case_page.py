"""What the caseworker's case page says in plain words: the model's score as a person reads it,
how the explanation was made, and the model card as labelled facts (never a raw dict).

The model card's `training` is whatever the controller registered: known keys get a label, others
their name made readable, and nested values become labelled rows of their own.
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from decisions.models import ModelVersion
from decisions.referral import score_band_bounds
from decisions.registry import schema_of
from explanations.reasons import is_regression

from .presentation import score_summary

TRAINING_LABELS = {
    "data_source": _("Training data"),
    "licence": _("Licence of the data"),
    "target": _("What the model learnt to predict"),
    "n_train": _("Rows used for training"),
    "n_test": _("Rows held out for testing"),
    "split": _("How the data was split"),
    "metrics": _("Measured on the held-out rows"),
    "hyperparameters": _("Training settings"),
    "n_columns": _("Input columns after encoding"),
    "background": _("Reference rows for the explanations"),
    "library_versions": _("Library versions"),
    "input_shape": _("Input shape"),
    "monitored_not_inputs": _("Monitored for fairness, not used by the model"),
}
METRIC_LABELS = {
    "test_auc": _("Area under the ROC curve"),
    "test_accuracy": _("Accuracy"),
    "test_log_loss": _("Log loss"),
    "train_auc": _("Area under the ROC curve on the training rows"),
    "test_approval_rate": _("Share the model approves"),
    "test_good_rate": _("Share of good outcomes in fact"),
}
OUTPUT_KINDS = {
    "binary": _("One of two outcomes, from an estimated probability and a cut-off"),
    "multiclass": _("One of several outcomes: the one the model finds most likely"),
    "regression": _("A score, compared with a cut-off"),
}
OUTPUT_SPACES = {
    "log_odds": _("log-odds (the model's raw margin)"),
    "probability": _("probability"),
    "raw": _("the model's raw output"),
    "score": _("the score itself"),
}
EXACT_METHODS = ("tree", "linear", "exact")
# Below this, an additivity error is rounding: "under 0.000001".
NEGLIGIBLE = 1e-6
# A statement longer than this scrolls in a box of its own, so that the actions stay in view.
LONG_STATEMENT = 200
# A nested value with more rows than this (a model's training settings) is shown folded.
FOLD_ABOVE = 6


def number(value: float, significant: int = 4) -> str:
    """A number to `significant` digits, in the active language's format: 0.7812, 0.00012."""
    if value == 0 or not math.isfinite(value):
        return number_format(value)
    decimals = min(12, max(0, significant - 1 - math.floor(math.log10(abs(value)))))
    text = number_format(round(value, decimals), decimal_pos=decimals)
    # "0.5000" reads as more precise than it is.
    return text.rstrip("0").rstrip(",.") if decimals else text


def readable(value: Any) -> str:
    """One value as a person reads it: numbers in the active language's format, lists joined."""
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, int):
        return number_format(value, force_grouping=True)
    if isinstance(value, float):
        return number(value)
    if isinstance(value, list | tuple):
        return ", ".join(readable(v) for v in value)
    if value is None or value == "":
        return "—"
    return str(value)


def humanised(key: str) -> str:
    return key.replace("_", " ").strip().capitalize()


def fact_rows(data: dict, labels: dict | None = None, names: dict | None = None) -> list[dict]:
    """Labelled rows of a dict: `{"label", "value"}`, or `{"label", "rows"}` for a nested dict;
    keys with a label first, in the labels' order, then the others alphabetically. `names` turns
    feature names in a list (the attributes monitored, say) into their labels."""
    labels = labels or {}
    names = names or {}
    order = list(labels)
    keys = sorted(data, key=lambda k: (order.index(k) if k in order else len(order), str(k)))
    rows = []
    for key in keys:
        value = data[key]
        label = labels.get(key) or humanised(str(key))
        if key == "library_versions" and isinstance(value, dict):
            rows.append({"label": label, "value": ", ".join(f"{k} {v}" for k, v in sorted(value.items()))})
        elif isinstance(value, dict):
            nested = fact_rows(value, METRIC_LABELS if key == "metrics" else {})
            rows.append({"label": label, "rows": nested, "folded": len(nested) > FOLD_ABOVE})
        elif isinstance(value, list) and value and all(v in names for v in value if isinstance(v, str)):
            rows.append({"label": label, "value": ", ".join(str(names.get(v, v)) for v in value)})
        else:
            rows.append({"label": label, "value": readable(value)})
    return rows


def output_rows(version: ModelVersion) -> list[dict]:
    output = version.output
    labels = output.get("class_labels") or []
    rows = [
        {
            "label": _("What the model gives"),
            "value": OUTPUT_KINDS.get(output.get("type"), output.get("type")),
        },
        {"label": _("Possible outcomes"), "value": ", ".join(f"“{label}”" for label in labels)},
        {
            "label": _("Favourable outcome"),
            "value": f"“{output['favourable_label']}”"
            if output.get("favourable_label")
            else _("none: no outcome is better for the person than another"),
        },
    ]
    if output.get("threshold") is not None and len(labels) == 2:
        rows.append(
            {
                "label": _("Cut-off"),
                "value": _("%(threshold)s: at or above it “%(above)s”, below it “%(below)s”")
                % {"threshold": readable(float(output["threshold"])), "above": labels[1], "below": labels[0]},
            }
        )
    if output.get("score_meaning"):
        rows.append({"label": _("What the score measures"), "value": output["score_meaning"]})
    return rows


def model_card(version: ModelVersion) -> dict:
    """The model card in plain words: what it is for, what it gives, how it was trained."""
    about = [
        {"label": _("Model"), "value": f"{version.model.name} {version.version}"},
        {"label": _("Framework"), "value": version.get_framework_display()},
        {"label": _("Status"), "value": version.get_status_display()},
        {"label": _("Explanation method"), "value": version.get_explainer_display()},
        {"label": _("Organisation responsible"), "value": version.controller or "—"},
        # What the person is told, in the words they read (so: "you").
        {"label": _("Purpose, as the person is told"), "value": version.purpose or "—"},
        {"label": _("Significance, as the person is told"), "value": version.significance or "—"},
        {"label": _("Legal basis, as the person is told"), "value": version.legal_basis or "—"},
        {
            "label": _("Personal data kept for"),
            "value": _("%(days)s days") % {"days": version.retention_days},
        },
    ]
    return {
        "about": about,
        "output": output_rows(version),
        "training": fact_rows(
            version.training or {},
            TRAINING_LABELS,
            names={f.name: f.label for f in schema_of(version).features},
        ),
        "artifact_sha256": version.artifact_sha256,
        "background_sha256": version.background_sha256,
        "referral": referral_rows(version),
    }


def referral_rows(version: ModelVersion) -> list[dict]:
    """The version's referral rules in plain words: which decisions a person reviews before they
    take effect (decisions.referral)."""
    rules = version.referral_rules or {}
    rows = []
    if "score_band" in rules:
        low, high = score_band_bounds(rules["score_band"], version.output)
        rows.append(
            {
                "label": _("Scores near the cut-off"),
                "value": _("from %(low)s to %(high)s") % {"low": low, "high": high},
            }
        )
    if "sample_rate" in rules:
        rows.append({"label": _("Random sample"), "value": f"{100 * rules['sample_rate']:g}%"})
    if "flagged_explanation" in rules:
        rows.append(
            {"label": _("Doubtful explanations"), "value": _("referred when the explanation does not add up")}
        )
    if "protected_groups" in rules:
        groups = rules["protected_groups"]
        rows.append(
            {
                "label": _("Protected groups watched"),
                "value": _(
                    "%(attributes)s: refusals in a group approved under %(ratio)s of the best group's rate"
                )
                % {"attributes": ", ".join(groups["attributes"]), "ratio": groups.get("min_ratio", 0.8)},
            }
        )
    if rows:
        hours = rules.get("deadline_hours", settings.REFERRAL_DEADLINE_HOURS)
        rows.append({"label": _("Deadline for a referral"), "value": _("%(hours)s hours") % {"hours": hours}})
    return rows


def score_line(decision) -> str:
    """The model's score as the caseworker reads it: a regression's score against its cut-off, a
    binary model's estimate for its second outcome, a multiclass model's confidence."""
    output = decision.model_version.output
    if is_regression(output):
        summary = score_summary(decision)
        return _("score %(value)s; cut-off %(threshold)s, at or above it “%(above)s”") % summary
    percent = number_format(round(100 * float(decision.score)), force_grouping=True)
    if output.get("type") == "binary":
        labels = output["class_labels"]
        return _("estimated probability of “%(positive)s”: %(percent)s%%; cut-off %(cutoff)s%%") % {
            "positive": labels[1],
            "percent": percent,
            "cutoff": readable(round(100 * float(output.get("threshold", 0.5)), 2)),
        }
    return _("the model's confidence: %(percent)s%%") % {"percent": percent}


def explanation_rows(explanation, version: ModelVersion) -> list[dict]:
    """How the explanation was made, for the caseworker who weighs it."""
    method = explanation.method
    if method == "supplied":
        how = _("supplied by the organisation's own system; checked here that it adds up")
    elif method in EXACT_METHODS:
        how = _("computed exactly")
    else:
        how = _("estimated by sampling: small effects may be noise")
    try:
        name = ModelVersion.ExplainerMethod(method).label
    except ValueError:
        name = method
    rows = [
        {"label": _("Method"), "value": f"{name} ({how})"},
        {
            "label": _("Measured in"),
            "value": OUTPUT_SPACES.get(explanation.output_space, explanation.output_space),
        },
    ]
    if explanation.additivity_error is not None:
        error = float(explanation.additivity_error)
        rows.append(
            {
                "label": _("Additivity error"),
                "value": _("under %(bound)s: the contributions add up to the result")
                % {"bound": number_format(NEGLIGIBLE, decimal_pos=6)}
                if error < NEGLIGIBLE
                else number(error, significant=2),
            }
        )
    if explanation.versions:
        rows.append(
            {
                "label": _("Library versions"),
                "value": ", ".join(f"{k} {v}" for k, v in sorted(explanation.versions.items())),
            }
        )
    if explanation.device:
        rows.append({"label": _("Computed on"), "value": explanation.device})
    rows.append(
        {
            "label": _("Model file"),
            "value": _("the registered model (fingerprints match)")
            if explanation.model_sha256 == version.artifact_sha256
            else _("a file other than the registered model: fingerprint %(sha)s")
            % {"sha": explanation.model_sha256},
        }
    )
    return rows
