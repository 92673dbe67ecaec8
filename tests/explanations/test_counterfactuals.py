"""Counterfactuals: verified by the model, minimal, and never touching what a person cannot change."""

import numpy as np
import pytest
import xgboost as xgb

from audit.models import Action, AuditEvent
from audit.services import Actor
from decisions.predictors import decide, load_predictor
from decisions.recording import DecisionInput
from decisions.schema import FeatureSchema
from explanations.counterfactuals import changeable, find_counterfactuals
from explanations.drain import explanation_drain
from explanations.models import Explanation
from explanations.recording import decision_record_many
from explanations.store import explanation_counterfactuals_batch


@pytest.fixture(scope="module")
def credit(credit_trained):
    schema = FeatureSchema.from_dict(credit_trained.schema)
    booster = xgb.Booster()
    booster.load_model(bytearray(credit_trained.artifact))
    return schema, load_predictor("xgboost", credit_trained.artifact), booster


def outcome_with(booster, schema, output, features) -> str:
    """The model's outcome, computed independently of the platform's predictor."""
    p = float(booster.predict(xgb.DMatrix(schema.encode([features])))[0])
    return output["class_labels"][1] if p >= output["threshold"] else output["class_labels"][0]


def test_applying_each_counterfactual_flips_the_outcome_and_touches_only_mutable_unprotected(
    credit, credit_trained
):
    schema, predictor, booster = credit
    output = credit_trained.output
    immutable = {f.name for f in schema.features if not f.mutable or f.protected}
    assert {"age_years", "personal_status_sex", "foreign_worker", "credit_history"} <= immutable
    flipped = 0
    for row in credit_trained.sample_rows[:25]:
        features, _ = schema.validate(row)
        original = outcome_with(booster, schema, output, features)
        result = find_counterfactuals(
            schema=schema, predict_proba=predictor.predict_proba, output=output, features=features
        )
        assert result["original_outcome"] == original
        assert result["status"] in ("done", "none_found")
        for item in result["items"]:
            changed = dict(features)
            for change in item["changes"]:
                assert change["feature"] not in immutable
                assert change["from"] == features[change["feature"]] and change["to"] != change["from"]
                assert change["label"] == schema[change["feature"]].label
                changed[change["feature"]] = change["to"]
            clean, errors = schema.validate(changed)
            assert errors == {}
            assert outcome_with(booster, schema, output, clean) == item["outcome"] != original
            assert item["verified"] is True
            flipped += 1
    assert flipped >= 25  # at least one for most applicants; the demo model is not saturated


def test_counterfactuals_are_minimal(credit, credit_trained):
    """No shown change set contains another that already flips, and a single numeric change
    is the nearest value on the search grid that flips."""
    schema, predictor, booster = credit
    output = credit_trained.output
    for row in credit_trained.sample_rows[:10]:
        features, _ = schema.validate(row)
        result = find_counterfactuals(
            schema=schema, predict_proba=predictor.predict_proba, output=output, features=features, limit=5
        )
        sets = [frozenset(c["feature"] for c in item["changes"]) for item in result["items"]]
        for a in sets:
            assert not any(b < a for b in sets)
        original = result["original_outcome"]
        for item in result["items"]:
            if len(item["changes"]) == 1 and schema[item["changes"][0]["feature"]].type == "numeric":
                change = item["changes"][0]
                lo, hi = sorted((change["from"], change["to"]))
                for value in range(int(lo) + 1, int(hi)):
                    nearer = dict(features, **{change["feature"]: value})
                    if schema.validate(nearer)[1] == {} and value % 1 == 0:
                        feature = schema[change["feature"]]
                        if feature.maximum - feature.minimum <= 40:  # integer grid: every value tried
                            assert outcome_with(booster, schema, output, nearer) == original


def test_nothing_changeable_means_not_applicable(credit_trained):
    schema = FeatureSchema.from_dict(
        {
            "features": [
                {"name": "age", "type": "numeric", "minimum": 18, "maximum": 99, "mutable": False},
                {
                    "name": "sex",
                    "type": "categorical",
                    "categories": ["f", "m"],
                    "mutable": True,
                    "protected": True,
                },
            ]
        }
    )
    assert changeable(schema) == []
    result = find_counterfactuals(
        schema=schema,
        predict_proba=lambda X: np.column_stack([1 - X[:, 0] / 100, X[:, 0] / 100]),
        output={"type": "binary", "class_labels": ["no", "yes"], "threshold": 0.5},
        features={"age": 30, "sex": "f"},
    )
    assert result == {"status": "not_applicable", "items": [], "reason": "no input the person can change"}


def test_a_verification_that_disagrees_drops_the_candidate():
    """The search and the check use the same model here, but a candidate the schema rejects
    (outside the declared range) is never shown."""
    schema = FeatureSchema.from_dict(
        {"features": [{"name": "income", "type": "numeric", "minimum": 0, "maximum": 100, "mutable": True}]}
    )

    def predict(X):
        p = (X[:, 0] >= 60).astype(float)
        return np.column_stack([1 - p, p])

    output = {"type": "binary", "class_labels": ["refused", "approved"], "threshold": 0.5}
    result = find_counterfactuals(
        schema=schema, predict_proba=predict, output=output, features={"income": 20.0}
    )
    [item] = result["items"]
    assert item["changes"][0]["to"] == 60.0 and item["outcome"] == "approved"
    assert decide(output, predict(schema.encode([{"income": 60.0}])))[0].outcome == "approved"


@pytest.mark.django_db
def test_the_worker_stores_counterfactuals_after_the_explanations(credit_version, credit_trained):
    items = [
        DecisionInput(model="credit-risk", features=row, subject_ref=f"s-{i}")
        for i, row in enumerate(credit_trained.sample_rows[:8])
    ]
    decision_record_many(items=items, actor=Actor.system("tests"))
    assert explanation_drain(model_version_id=credit_version.pk)["done"] == 8
    outcomes = set()
    for e in Explanation.objects.select_related("decision"):
        outcomes.add(e.decision.outcome)
        assert e.status == "done"
        if e.decision.outcome == "refused":
            assert e.counterfactuals["status"] == "done"
            assert e.counterfactuals["original_outcome"] == "refused"
            assert {item["outcome"] for item in e.counterfactuals["items"]} == {"approved"}
        else:  # nothing to change for a favourable outcome; the search is not run
            assert e.counterfactuals == {
                "status": "not_applicable",
                "items": [],
                "reason": "favourable outcome",
            }
    assert outcomes == {"approved", "refused"}
    assert AuditEvent.objects.filter(action=Action.COUNTERFACTUALS_COMPUTED).count() == 8


@pytest.mark.django_db
def test_a_counterfactual_failure_does_not_fail_the_explanation(credit_version, credit_trained):
    from decisions.models import ModelVersion

    decision_record_many(
        items=[DecisionInput(model="credit-risk", features=credit_trained.sample_rows[0], subject_ref="s")],
        actor=Actor.system("tests"),
    )
    # A threshold that is not a number breaks the outcome rule the search needs, not SHAP.
    ModelVersion.objects.filter(pk=credit_version.pk).update(
        output={**credit_version.output, "threshold": "half"}
    )
    assert explanation_drain(model_version_id=credit_version.pk) == {"done": 1, "failed": 0, "batches": 1}
    e = Explanation.objects.get()
    assert e.status == "done" and e.contributions and e.additivity_error < 1e-4
    assert e.counterfactuals == {"status": "failed", "items": [], "reason": "ValueError"}
    # Rows already searched are not searched again.
    assert explanation_counterfactuals_batch(version=credit_version, ids=[e.pk]) == 0
