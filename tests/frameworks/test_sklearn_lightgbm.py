"""scikit-learn (skops) and LightGBM models end to end: registered with their checks, decided
through the API and explained by a real worker, equal to shap's and LightGBM's own explainers."""

from __future__ import annotations

import lightgbm
import numpy as np
import pytest
import shap
import skops.io
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from decisions.predictors.base import decide
from explanations.models import Explanation
from tests.frameworks.bring import bring, identifiers, post_and_wait, rows_of
from tests.services import wait_until

pytestmark = pytest.mark.integration

BINARY = {
    "type": "binary",
    "class_labels": ["malignant", "benign"],
    "favourable_label": "benign",
    "threshold": 0.5,
}


@pytest.fixture(scope="module")
def tumours():
    data = load_breast_cancer()
    return identifiers(data.feature_names[:8]), data.data[:, :8], data.target


def test_a_logistic_regression_pipeline_gets_exact_linear_shap(worker, integration, tumours):
    names, X, y = tumours
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X[100:], y[100:])
    version = bring("tumours-linear", "sklearn", skops.io.dumps(model), names=names, X=X, output=BINARY)
    assert version.status == "active" and version.checks["report"]["method"] == "linear", version.checks

    rows = X[60:90]
    explanations = post_and_wait(integration, "tumours-linear", rows_of(names, rows))
    assert {e.status for e in explanations} == {"done"}, [e.error for e in explanations]
    scaler, logit = model[0], model[-1]
    reference = shap.LinearExplainer(logit, scaler.transform(X[:50])).shap_values(scaler.transform(rows))
    raw = np.array([e.raw_values for e in explanations])
    np.testing.assert_allclose(raw, reference, atol=1e-5)
    log_odds = model.decision_function(rows)
    base = np.array([e.base_value for e in explanations])
    assert np.max(np.abs(base + raw.sum(axis=1) - log_odds)) < 1e-4
    assert {e.output_space for e in explanations} == {"log_odds"} and explanations[0].method == "linear"


def test_a_regression_score_with_a_cut_off_is_explained_in_its_own_units(worker, integration):
    data = load_diabetes()
    names, X, y = identifiers(data.feature_names), data.data, data.target
    model = HistGradientBoostingRegressor(max_iter=60, random_state=0).fit(X[80:], y[80:])
    output = {
        "type": "regression",
        "threshold": 150.0,
        "favourable_when": "below",
        "class_labels": ["standard follow-up", "priority follow-up"],
        "score_meaning": "expected disease progression after one year",
    }
    version = bring("progression", "sklearn", skops.io.dumps(model), names=names, X=X, output=output)
    assert version.status == "active" and version.checks["report"]["method"] == "tree", version.checks

    rows = X[:40]
    explanations = post_and_wait(integration, "progression", rows_of(names, rows))
    assert {e.status for e in explanations} == {"done"}, [e.error for e in explanations]
    scores = model.predict(rows)
    reference = shap.TreeExplainer(model).shap_values(rows)
    raw = np.array([e.raw_values for e in explanations])
    np.testing.assert_allclose(raw, reference, atol=1e-5)
    base = np.array([e.base_value for e in explanations])
    assert np.max(np.abs(base + raw.sum(axis=1) - scores)) < 1e-4
    assert {e.output_space for e in explanations} == {"score"}
    for explanation, score in zip(explanations, scores, strict=True):
        decision = explanation.decision
        assert decision.score == pytest.approx(score)
        assert decision.outcome == ("priority follow-up" if score >= 150 else "standard follow-up")
        assert decision.favourable is bool(score < 150)
    # Counterfactuals aim at the cut-off: from above it, to below it.
    searched = [e for e in explanations if e.decision.favourable is False]
    assert searched
    pending = Explanation.objects.filter(pk__in=[e.pk for e in searched], counterfactuals__isnull=True)
    wait_until(lambda: not pending.exists(), timeout=60, what="counterfactual searches")
    found = 0
    for explanation in searched:
        explanation.refresh_from_db()
        for option in explanation.counterfactuals["items"]:
            found += 1
            changed = {**explanation.decision.features, **{c["feature"]: c["to"] for c in option["changes"]}}
            new_score = model.predict(np.array([[changed[n] for n in names]]))
            assert decide(version.output, new_score[:, None])[0].favourable
            assert option["score"] == pytest.approx(new_score[0]) and option["score"] < 150
    assert found


def test_lightgbm_gets_treeshap_from_its_own_pred_contrib(worker, integration, tumours):
    names, X, y = tumours
    booster = lightgbm.train(
        {"objective": "binary", "num_leaves": 15, "verbose": -1, "seed": 0},
        lightgbm.Dataset(X[100:], y[100:]),
        num_boost_round=40,
    )
    version = bring(
        "tumours-lgbm", "lightgbm", booster.model_to_string().encode(), names=names, X=X, output=BINARY
    )
    assert version.status == "active" and version.checks["report"]["method"] == "tree", version.checks

    rows = X[60:90]
    explanations = post_and_wait(integration, "tumours-lgbm", rows_of(names, rows))
    assert {e.status for e in explanations} == {"done"}, [e.error for e in explanations]
    contributions = booster.predict(rows, pred_contrib=True)
    raw = np.array([e.raw_values for e in explanations])
    np.testing.assert_allclose(raw, contributions[:, :-1], atol=1e-5)
    margin = booster.predict(rows, raw_score=True)
    base = np.array([e.base_value for e in explanations])
    assert np.max(np.abs(base + raw.sum(axis=1) - margin)) < 1e-4
    assert {e.output_space for e in explanations} == {"log_odds"}
    probability = booster.predict(rows)
    np.testing.assert_allclose([e.decision.score for e in explanations], probability, atol=1e-6)
