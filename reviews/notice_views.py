"""The public model notice, `/models/<name>/`: what a decision system decides and why, the data it
uses, what weighs most overall, its outcomes and what follows, and how to ask for a person.

Role: public. Anyone may read it without signing in; the controller links it from its privacy
notice so a person has meaningful information about the logic before a decision about them (GDPR
Art. 13(2)(f), 14(2)(g)). It shows no personal data: only the version's texts and schema, and
figures aggregated over at least MIN_EXPLAINED_DECISIONS explained decisions, so that no one
person's values can be read back from them.
"""

from __future__ import annotations

from django.core.cache import cache
from django.shortcuts import render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from decisions.models import DecisionModel, ModelVersion
from decisions.registry import schema_for_language
from decisions.translations import version_texts
from explanations.reasons import is_regression, method_sentence, score_text
from explanations.selectors import global_importance

from .templatetags.subject_text import percent

# Below this many explained decisions the overall figures are withheld: with a handful of
# decisions an average would come close to one person's own explanation.
MIN_EXPLAINED_DECISIONS = 20
# The figures scan every explanation of the version; an anonymous page must not do that on each
# request, and a few minutes' delay changes nothing an average says.
IMPORTANCE_CACHE_SECONDS = 600
PUBLISHED_STATUSES = (ModelVersion.Status.ACTIVE, ModelVersion.Status.RETIRED)


def _importance(version: ModelVersion, schema) -> dict:
    """Each input's share of the overall influence, largest first, with its bar's length (the
    largest is 100) and its label from `schema` (the reader's language); `shown` False below
    MIN_EXPLAINED_DECISIONS."""
    figures = cache.get_or_set(
        f"model-notice:importance:{version.pk}",
        lambda: global_importance(version.pk),
        IMPORTANCE_CACHE_SECONDS,
    )
    count = figures["explained_decisions"]
    total = sum(f["mean_abs_contribution"] for f in figures["features"])
    if count < MIN_EXPLAINED_DECISIONS or total <= 0:
        return {"shown": False, "count": count, "minimum": MIN_EXPLAINED_DECISIONS, "rows": []}
    largest = figures["features"][0]["mean_abs_contribution"]
    rows = [
        {
            "label": schema[f["feature"]].label,
            "share": f["mean_abs_contribution"] / total,
            "bar": round(100 * f["mean_abs_contribution"] / largest, 1),
        }
        for f in figures["features"]
    ]
    return {"shown": True, "count": count, "minimum": MIN_EXPLAINED_DECISIONS, "rows": rows}


def _outcomes(output: dict) -> dict:
    """The possible outcomes (which one is favourable) and the rule that picks one."""
    labels = output["class_labels"]
    favourable = output.get("favourable_label")
    meaning = output.get("score_meaning", "")
    if output["type"] == "multiclass":
        rule = _("The system chooses the most likely of these outcomes.")
    elif is_regression(output):
        rule = _(
            "The system computes a score. The cut-off is %(threshold)s: at or above it the outcome "
            "is “%(above)s”, below it “%(below)s”."
        ) % {
            "threshold": score_text(float(output["threshold"]), output),
            "above": labels[1],
            "below": labels[0],
        }
    else:
        rule = _(
            "The system estimates a probability. At or above %(threshold)s the outcome is "
            "“%(above)s”, below it “%(below)s”."
        ) % {
            "threshold": percent(float(output.get("threshold", 0.5))),
            "above": labels[1],
            "below": labels[0],
        }
    return {
        "labels": [
            {"label": label, "favourable": None if favourable is None else label == favourable}
            for label in labels
        ],
        "rule": rule,
        "meaning": meaning,
    }


def _method(version: ModelVersion) -> str:
    """The method the version's explanations use: the one its registration checks ran, else the
    one it was registered with; "" when only loading the model could tell ("auto")."""
    method = (version.checks or {}).get("report", {}).get("method") or version.explainer
    if version.framework == ModelVersion.Framework.EXTERNAL:
        method = "supplied"
    return "" if method == ModelVersion.ExplainerMethod.AUTO else method


@require_safe
def model_notice(request, name: str):
    """Role: public (no sign-in). The notice of the model's default version, or a 404 page for an
    unknown model or one with no version deciding."""
    model = DecisionModel.objects.select_related("default_version").filter(name=name).first()
    version = model.default_version if model is not None else None
    if version is None:
        return render(request, "reviews/model_notice.html", {"missing": True, "name": name}, status=404)
    schema = schema_for_language(version, get_language())
    method = _method(version)
    context = {
        "model": model,
        "version": version,
        "inputs": schema.inputs,
        "monitored": schema.monitored,
        "importance": _importance(version, schema),
        "outcomes": _outcomes(version.output),
        "method_sentence": method_sentence(method, version_texts(version, get_language())["controller"])
        if method
        else "",
        "history": list(
            model.versions.filter(status__in=PUBLISHED_STATUSES)
            .only("version", "status", "created_at", "model_id")
            .order_by("-created_at")
        ),
    }
    return render(request, "reviews/model_notice.html", context)
