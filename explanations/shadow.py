"""Shadow runs: a candidate version scored and explained beside its model's default on live
decisions, without deciding, and the agreement report the controller reads before promoting it.

Run by the worker after a batch of the default's explanations is stored, so a shadow costs the
request path nothing. A shadow failure is logged and never touches the live decisions.
"""

from __future__ import annotations

import logging

import numpy as np
from django.db.models import Avg, Count, F, Max, Min, Q

from decisions.models import Decision, ModelVersion
from decisions.predictors import decide
from decisions.registry import predictor_for, schema_of

from .compute import explainer_for
from .engine import group_contributions
from .explainer_build import outputs_to_explain
from .models import ShadowDecision

logger = logging.getLogger(__name__)


def shadows_of(version: ModelVersion) -> list[ModelVersion]:
    """The candidates in shadow beside `version`, if it is its model's default."""
    if version.model.default_version_id != version.pk:
        return []
    return list(
        ModelVersion.objects.select_related("model")
        .filter(model_id=version.model_id, shadow=True, status=ModelVersion.Status.CANDIDATE)
        .exclude(pk=version.pk)
    )


def shadow_run_batch(*, version: ModelVersion, explanation_ids: list[int]) -> int:
    """Score and explain the decisions of these explanations with every shadow of `version`;
    rows written."""
    shadows = shadows_of(version) if explanation_ids else []
    if not shadows:
        return 0
    decisions = list(
        Decision.objects.filter(
            explanations__id__in=explanation_ids,
            kind=Decision.Kind.AUTOMATED,
            personal_data_erased_at__isnull=True,
        ).only("id", "features")
    )
    written = 0
    for shadow in shadows:
        try:
            written += _run(shadow, decisions)
        except Exception:  # noqa: BLE001 - a candidate's failure must never reach the live path
            logger.exception("shadow run of %s failed for %s decisions", shadow, len(decisions))
    return written


def _run(shadow: ModelVersion, decisions: list[Decision]) -> int:
    schema = schema_of(shadow)
    usable = [(d, clean) for d in decisions for clean, errors in [schema.validate(d.features)] if not errors]
    if not usable:
        return 0
    X = schema.encode([clean for _, clean in usable])
    outputs = predictor_for(shadow).predict_proba(X)
    outcomes = decide(shadow.output, outputs)
    result = explainer_for(shadow).explain(X, classes=outputs_to_explain(shadow.output, outputs))
    grouped = group_contributions(result.values, schema.groups)
    names = [name for name, _ in schema.groups]
    rows = [
        ShadowDecision(
            decision=decision,
            model_version=shadow,
            score=outcome.score,
            outcome=outcome.outcome,
            favourable=outcome.favourable,
            method=result.method,
            base_value=float(result.base_values[i]),
            contributions={name: round(float(v), 10) for name, v in zip(names, grouped[i], strict=True)},
        )
        for i, ((decision, _), outcome) in enumerate(zip(usable, outcomes, strict=True))
    ]
    ShadowDecision.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def shadow_report(version: ModelVersion) -> dict:
    """How the shadow version's outcomes compare with the decisions actually made: agreement,
    favourable flips both ways, score differences, and whether the main reason is the same."""
    runs = ShadowDecision.objects.filter(model_version=version).select_related("decision")
    totals = runs.aggregate(
        n=Count("id"),
        agree=Count("id", filter=Q(outcome=F("decision__outcome"))),
        became_favourable=Count("id", filter=Q(favourable=True, decision__favourable=False)),
        became_unfavourable=Count("id", filter=Q(favourable=False, decision__favourable=True)),
        first=Min("created_at"),
        last=Max("created_at"),
        mean_score=Avg("score"),
        mean_live_score=Avg("decision__score"),
    )
    n = totals["n"]
    differences = np.array(
        [abs(r.score - r.decision.score) for r in runs.only("score", "decision__score")[:100_000]]
    )
    return {
        "model": version.model.name,
        "version": version.version,
        "shadow": version.shadow,
        "compared_with": "the decisions recorded by the model's default at the time",
        "decisions_compared": n,
        "outcome_agreement": (totals["agree"] / n) if n else None,
        "became_favourable": totals["became_favourable"],
        "became_unfavourable": totals["became_unfavourable"],
        "mean_score": totals["mean_score"],
        "mean_live_score": totals["mean_live_score"],
        "mean_abs_score_difference": float(differences.mean()) if n else None,
        "max_abs_score_difference": float(differences.max()) if n else None,
        "top_reason_agreement": _top_reason_agreement(version),
        "first_at": totals["first"],
        "last_at": totals["last"],
    }


def _top_reason_agreement(version: ModelVersion, limit: int = 20_000) -> float | None:
    """Share of compared decisions whose largest contribution names the same feature in the
    shadow's explanation as in the live one (both done)."""
    pairs = list(
        ShadowDecision.objects.filter(
            model_version=version,
            decision__explanations__is_current=True,
            decision__explanations__status="done",
        ).values_list("contributions", "decision__explanations__contributions")[:limit]
    )
    if not pairs:
        return None
    same = sum(1 for shadow, live in pairs if shadow and live and _top(shadow) == _top(live))
    return same / len(pairs)


def _top(contributions: dict) -> str:
    return max(contributions, key=lambda name: abs(contributions[name]))
