"""Storing a batch's results: the explanations onto the rows still claimed by the worker that
computed them, then the counterfactuals of those whose outcome was not the favourable one."""

from __future__ import annotations

import logging

import numpy as np
from django.db import transaction
from django.utils import timezone

from audit.models import Action
from audit.services import EventSpec, audit_record_many
from decisions.models import ModelVersion
from decisions.referral import referral_refer_flagged, referral_rules_of
from decisions.registry import predictor_for, schema_of

from . import storage
from .claims import SYSTEM, claimant
from .contributions import contributions_compact
from .counterfactuals import find_counterfactuals, has_model_to_search
from .explainer_build import ADDITIVITY_TOLERANCE
from .models import Explanation

logger = logging.getLogger(__name__)


def explanation_store_batch(
    *, version: ModelVersion, token: str, ids: list[int], schema, result, grouped
) -> int:
    """Write results onto rows still claimed by `token`; one audit event per explanation."""
    rows, batch = stored_values(version=version, ids=ids, schema=schema, result=result, grouped=grouped)
    errors = {row[0]: row[6] for row in rows}
    # Read before the transaction, where the registry cache answers without a query.
    flag_rule = referral_rules_of(version).get("flagged_explanation")
    with transaction.atomic():
        updated = storage.store(worker=claimant(token), rows=rows, batch=batch)
        if updated:
            referred = []
            if flag_rule:
                flagged = flagged_explanations(rows, rule=flag_rule, method=result.method)
                referred = referral_refer_flagged(
                    version=version,
                    decision_ids=[decision_id for pk, decision_id in updated if pk in flagged],
                    now=batch["finished_at"],
                )
            audit_record_many(
                events=[
                    EventSpec(
                        actor=SYSTEM,
                        action=Action.EXPLANATION_COMPUTED,
                        object_type="explanation",
                        object_id=str(pk),
                        data={
                            "decision": str(decision_id),
                            "method": result.method,
                            "model_sha256": version.artifact_sha256,
                            "background_sha256": version.background_sha256,
                            "additivity_error": repr(errors[pk]),
                            "device": result.device,
                        },
                    )
                    for pk, decision_id in updated
                ]
                + referred
            )
    return len(updated)


def flagged_explanations(rows: list[tuple], *, rule, method: str) -> set[int]:
    """The explanations among a batch's stored rows that a referral rule treats as doubtful: base
    value + contributions further from the model's output than the rule's tolerance, or (rule
    `true`) than the method's own bound, scaled as the registration checks scale it."""
    flagged = set()
    for pk, _class, _base, prediction, _contributions, _values, error in rows:
        if rule is True:
            tolerance = ADDITIVITY_TOLERANCE.get(method, 1e-4) * max(1.0, abs(prediction))
        else:
            tolerance = rule["additivity_tolerance"]
        if not error <= tolerance:  # NaN is flagged too
            flagged.add(pk)
    return flagged


def stored_values(
    *, version: ModelVersion, ids: list[int], schema, result, grouped
) -> tuple[list[tuple], dict]:
    """What a batch's store writes: a row of storage.PER_ROW values per explanation, and the
    storage.PER_BATCH values shared by all."""
    # What was explained: a class, or a regression's score (its one output).
    labels = ["score"] if version.output["type"] == "regression" else version.output["class_labels"]
    batch = {
        "status": Explanation.Status.DONE.value,
        "method": result.method,
        "params": result.params,
        "output_space": result.output_space,
        "versions": result.versions,
        "model_sha256": version.artifact_sha256,
        "background_sha256": version.background_sha256,
        "device": result.device,
        "compute_ms": 1000.0 * result.compute_seconds / max(len(ids), 1),
        "batch_size": len(ids),
        "finished_at": timezone.now(),
        "error": "",
    }
    # Whole arrays to Python once: additivity_error is computed on every access, and per-row
    # numpy indexing cost more than the rows' JSON.
    rows = list(
        zip(
            ids,
            [labels[c] for c in result.explained_class.tolist()],
            result.base_values.tolist(),
            result.predictions.tolist(),
            [contributions_compact(schema, row) for row in np.asarray(grouped).tolist()],
            result.values.tolist(),
            result.additivity_error.tolist(),
            strict=True,
        )
    )
    return rows, batch


def explanation_counterfactuals_batch(*, version: ModelVersion, ids: list[int]) -> int:
    """Search and store verified counterfactuals for the done explanations among `ids` whose
    outcome was not the favourable one.

    Never raises: a failure is logged and recorded on the rows as {"status": "failed"}, and the
    explanations themselves stay done. Returns the number of rows written.
    """
    # Only what the search reads: the rows' contributions and the decisions' other columns are
    # JSON that the ORM would decode for nothing.
    rows = list(
        Explanation.objects.select_related("decision")
        .only(
            "id",
            "decision_id",
            "counterfactuals",
            "decision__features",
            "decision__favourable",
            "decision__personal_data_erased_at",
        )
        .filter(id__in=ids, status=Explanation.Status.DONE, counterfactuals__isnull=True)
        .order_by("id")
    )
    if not rows:
        return 0
    try:
        schema = schema_of(version)
        searchable = has_model_to_search(framework=version.framework, explainer=version.explainer)
        predict = predictor_for(version).predict_proba if searchable else None
        for e in rows:
            if e.decision.personal_data_erased_at is not None:
                e.counterfactuals = {
                    "status": "not_applicable",
                    "items": [],
                    "reason": "personal data erased",
                }
                continue
            if e.decision.favourable is True:
                # Nothing for the person to change, and the search is the costly part of a batch
                # (milliseconds per row against microseconds per row for tree SHAP).
                e.counterfactuals = {"status": "not_applicable", "items": [], "reason": "favourable outcome"}
                continue
            try:
                e.counterfactuals = find_counterfactuals(
                    schema=schema, predict_proba=predict, output=version.output, features=e.decision.features
                )
            except Exception as exc:  # noqa: BLE001 - one row's failure must not stop the others
                logger.exception("counterfactual search failed for explanation %s", e.pk)
                e.counterfactuals = {"status": "failed", "items": [], "reason": f"{exc.__class__.__name__}"}
    except Exception:  # noqa: BLE001 - e.g. the model cannot be loaded: leave the rows for later
        logger.exception("counterfactual search failed for %s explanations of %s", len(rows), version)
        return 0
    try:
        with transaction.atomic():
            storage.update_rows(rows, ["counterfactuals"])
            audit_record_many(
                events=[
                    EventSpec(
                        actor=SYSTEM,
                        action=Action.COUNTERFACTUALS_COMPUTED,
                        object_type="explanation",
                        object_id=str(e.pk),
                        data={
                            "decision": str(e.decision_id),
                            "status": e.counterfactuals["status"],
                            "count": len(e.counterfactuals.get("items", [])),
                        },
                    )
                    for e in rows
                ]
            )
    except Exception:  # noqa: BLE001 - the explanation is stored; counterfactuals can be redone
        logger.exception("could not store counterfactuals of %s explanations", len(rows))
        return 0
    return len(rows)
