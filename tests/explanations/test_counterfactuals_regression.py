"""Counterfactuals of a regression score with a cut-off: the smallest changes that carry the score
across the cut-off toward the favourable side, checked with `decide`; none where the controller's
own system gives the score."""

import numpy as np
import pytest
import xgboost as xgb
from sklearn.datasets import load_diabetes

from decisions.predictors import decide
from decisions.schema import FeatureSchema
from explanations.counterfactuals import NO_MODEL, find_counterfactuals, has_model_to_search

THRESHOLD = 150.0
# Disease progression a year on, as a premium score: below the cut-off is the favourable side.
BELOW_IS_FAVOURABLE = {
    "type": "regression",
    "threshold": THRESHOLD,
    "favourable_when": "below",
    "class_labels": ["standard premium", "surcharge"],
    "favourable_label": "standard premium",
    "score_meaning": "Expected progression index after one year",
}
# The same score read the other way round: at or above the cut-off is favourable.
ABOVE_IS_FAVOURABLE = {
    "type": "regression",
    "threshold": THRESHOLD,
    "favourable_when": "above",
    "class_labels": ["not eligible", "eligible"],
    "favourable_label": "eligible",
    "score_meaning": "Expected progression index after one year",
}


def numeric(name, label, low, high, *, mutable=True, protected=False, integer=False, unit=""):
    return {
        "name": name,
        "label": label,
        "type": "numeric",
        "minimum": low,
        "maximum": high,
        "mutable": mutable,
        "protected": protected,
        "integer": integer,
        "unit": unit,
    }


DIABETES_SCHEMA = {
    "features": [
        numeric("age", "Age", 18, 80, mutable=False, integer=True, unit="years"),
        numeric("sex", "Sex", 1, 2, mutable=True, protected=True, integer=True),
        numeric("bmi", "Body-mass index", 15, 45, unit="kg/m²"),
        numeric("bp", "Blood pressure", 60, 135, unit="mmHg"),
        numeric("s1", "Total cholesterol", 95, 305),
        numeric("s2", "LDL cholesterol", 40, 245),
        numeric("s3", "HDL cholesterol", 20, 100),
        numeric("s4", "Cholesterol ratio", 2, 9.1),
        numeric("s5", "Triglycerides (log)", 3.2, 6.2),
        numeric("s6", "Blood sugar", 55, 125),
    ]
}


@pytest.fixture(scope="module")
def diabetes():
    """A real xgboost regression (reg:squarederror) on the bundled diabetes data, its schema, and
    the people it scores, as validated feature dicts."""
    data = load_diabetes(scaled=False)
    booster = xgb.train(
        {"objective": "reg:squarederror", "max_depth": 3, "eta": 0.1, "seed": 0},
        xgb.DMatrix(data.data, label=data.target),
        num_boost_round=120,
    )
    schema = FeatureSchema.from_dict(DIABETES_SCHEMA)
    people = []
    for row in data.data[:60]:
        features, errors = schema.validate(dict(zip(schema.names, map(float, row), strict=True)))
        assert errors == {}
        people.append(features)
    return booster, schema, people


def model_score(booster, schema, features) -> np.ndarray:
    """The booster's own score for a person, as the (1, 1) output a regression predictor gives."""
    return booster.predict(xgb.DMatrix(schema.encode([features]))).astype(np.float64)[:, None]


@pytest.mark.parametrize("output", [BELOW_IS_FAVOURABLE, ABOVE_IS_FAVOURABLE], ids=["below", "above"])
def test_regression_counterfactuals_cross_the_cut_off_toward_the_favourable_side(diabetes, output):
    booster, schema, people = diabetes

    def predict(X):
        return booster.predict(xgb.DMatrix(X)).astype(np.float64)[:, None]

    unfavourable = [p for p in people if not decide(output, model_score(booster, schema, p))[0].favourable][
        :10
    ]
    assert len(unfavourable) == 10
    found = multi_change = 0
    for features in unfavourable:
        before = decide(output, model_score(booster, schema, features))[0]
        result = find_counterfactuals(schema=schema, predict_proba=predict, output=output, features=features)
        assert result["original_outcome"] == before.outcome
        assert result["original_score"] == pytest.approx(before.score)
        assert result["status"] == "done"
        for item in result["items"]:
            changed = dict(features)
            for change in item["changes"]:
                assert change["feature"] not in ("age", "sex")  # immutable, protected
                changed[change["feature"]] = change["to"]
            clean, errors = schema.validate(changed)
            assert errors == {}
            after = decide(output, model_score(booster, schema, clean))[0]
            assert after.favourable is True and after.outcome == item["outcome"] == output["favourable_label"]
            # Across the cut-off, in the favourable direction.
            if output["favourable_when"] == "below":
                assert before.score >= THRESHOLD > after.score
            else:
                assert before.score < THRESHOLD <= after.score
            assert item["score"] == pytest.approx(after.score)
            found += 1
            multi_change += len(item["changes"]) > 1
    assert found >= 25
    # Pairs and triples are built from the values that moved the score furthest toward the
    # cut-off: some people need them.
    assert multi_change >= 1


def test_the_search_reads_in_rounded_steps_within_the_declared_range(diabetes):
    """Non-integer features are tried on a grid a person can read (32.25, not 32.2499999)."""
    booster, schema, people = diabetes

    def predict(X):
        return booster.predict(xgb.DMatrix(X)).astype(np.float64)[:, None]

    shown = []
    for features in people[:6]:
        result = find_counterfactuals(
            schema=schema, predict_proba=predict, output=BELOW_IS_FAVOURABLE, features=features, limit=5
        )
        for item in result["items"]:
            for change in item["changes"]:
                feature = schema[change["feature"]]
                assert feature.minimum <= change["to"] <= feature.maximum
                digits = str(change["to"]).split(".")[1] if "." in str(change["to"]) else ""
                assert len(digits) <= 3, change
                shown.append(change["to_display"])
    assert shown


def test_no_counterfactuals_without_a_model_to_search():
    """Scores from the controller's own system: nothing to try changes on, and it says so."""
    assert not has_model_to_search(framework="external", explainer="supplied")
    assert not has_model_to_search(framework="external", explainer="auto")
    assert not has_model_to_search(framework="xgboost", explainer="supplied")
    assert has_model_to_search(framework="xgboost", explainer="tree")
    schema = FeatureSchema.from_dict(DIABETES_SCHEMA)
    result = find_counterfactuals(
        schema=schema, predict_proba=None, output=BELOW_IS_FAVOURABLE, features={"bmi": 30.0}
    )
    assert result == {
        "status": "not_applicable",
        "items": [],
        "reason": "no model to search: the controller's own system gives the score",
    }
    assert result == NO_MODEL and result["items"] is not NO_MODEL["items"]
