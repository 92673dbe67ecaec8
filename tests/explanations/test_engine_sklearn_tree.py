"""SklearnTreeExplainer: shap's TreeSHAP of scikit-learn tree models, in the output space each
model's trees add up in, checked against shap's own explainer and the model's own output."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import shap
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.tree import DecisionTreeRegressor

from explanations.engine import ExplanationError, auto_method, make_explainer
from explanations.engine.sklearn_support import sklearn_method
from explanations.engine.sklearn_tree import SklearnTreeExplainer


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(return_X_y=True)


@pytest.fixture(scope="module")
def forest(cancer):
    X, y = cancer
    return RandomForestClassifier(n_estimators=15, max_depth=6, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def boosted(cancer):
    X, y = cancer
    return HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)


def _shap(model, rows):
    reference = shap.TreeExplainer(model, feature_perturbation="tree_path_dependent", model_output="raw")
    values = reference.shap_values(rows)
    # Read only after shap_values(): before the first call it may be wrong (a known shap trap).
    return values, np.asarray(reference.expected_value).reshape(-1)


def test_a_forest_classifier_explains_class_one_probability_as_shap_does(forest, cancer):
    X, _ = cancer
    rows = X[:120]

    explanation = SklearnTreeExplainer(forest).explain(rows)

    values, expected = _shap(forest, rows)  # (n, columns, 2 classes)
    assert explanation.output_space == "probability"
    assert explanation.explained_class.tolist() == [1] * 120
    assert np.abs(explanation.values - values[:, :, 1]).max() < 1e-5
    assert np.abs(explanation.base_values - expected[1]).max() < 1e-5
    assert np.array_equal(explanation.predictions, forest.predict_proba(rows)[:, 1])
    assert explanation.additivity_error.max() < 1e-4
    assert np.abs(explanation.values).max() > 0.01


def test_a_forest_explains_class_zero_from_its_own_probabilities(forest, cancer):
    X, _ = cancer

    explanation = SklearnTreeExplainer(forest).explain(X[:10], classes=np.zeros(10, dtype=np.int64))

    values, expected = _shap(forest, X[:10])
    assert np.abs(explanation.values - values[:, :, 0]).max() < 1e-5
    assert np.array_equal(explanation.predictions, forest.predict_proba(X[:10])[:, 0])
    assert explanation.additivity_error.max() < 1e-4


def test_a_hist_gradient_boosting_classifier_explains_log_odds_as_shap_does(boosted, cancer):
    X, _ = cancer
    rows = X[100:220]

    explanation = SklearnTreeExplainer(boosted).explain(rows)

    values, expected = _shap(boosted, rows)  # one output: the log-odds of class 1
    assert explanation.output_space == "log_odds"
    assert explanation.explained_class.tolist() == [1] * 120
    assert np.abs(explanation.values - values).max() < 1e-5
    assert np.abs(explanation.base_values - expected[0]).max() < 1e-5
    assert np.abs(explanation.predictions - boosted.decision_function(rows)).max() < 1e-9
    assert explanation.additivity_error.max() < 1e-4


def test_class_zero_of_a_boosted_classifier_is_the_negated_log_odds(boosted, cancer):
    X, _ = cancer
    explainer = SklearnTreeExplainer(boosted)

    positive = explainer.explain(X[:6])
    mixed = explainer.explain(X[:6], classes=np.array([0, 1, 0, 1, 0, 1]))

    sign = np.array([-1, 1, -1, 1, -1, 1])
    assert np.array_equal(mixed.values, positive.values * sign[:, None])
    assert np.array_equal(mixed.predictions, positive.predictions * sign)
    assert mixed.additivity_error.max() < 1e-4


def test_a_multiclass_booster_explains_each_rows_predicted_class():
    X, y = load_wine(return_X_y=True)
    model = HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(X, y)
    rows = X[::3]

    explanation = SklearnTreeExplainer(model).explain(rows)

    values, _ = _shap(model, rows)  # (n, columns, classes)
    predicted = model.predict(rows)
    index = np.arange(len(rows))
    assert explanation.explained_class.tolist() == predicted.tolist()
    assert len(set(predicted.tolist())) == 3
    assert np.abs(explanation.values - values[index, :, predicted]).max() < 1e-5
    assert np.abs(explanation.predictions - model.decision_function(rows)[index, predicted]).max() < 1e-9
    assert explanation.additivity_error.max() < 1e-4


@pytest.mark.parametrize(
    ("model", "space"),
    [
        (RandomForestRegressor(n_estimators=10, max_depth=5, random_state=0), "score"),
        (GradientBoostingRegressor(n_estimators=20, random_state=0), "score"),
        (DecisionTreeRegressor(max_depth=5, random_state=0), "score"),
        (HistGradientBoostingRegressor(max_iter=20, loss="poisson"), "margin"),
    ],
    ids=["forest", "boosted", "tree", "poisson"],
)
def test_a_regression_explains_its_raw_output(model, space):
    X, y = load_diabetes(return_X_y=True)
    model.fit(X, y)
    rows = X[:80]

    explanation = SklearnTreeExplainer(model).explain(rows)

    values, expected = _shap(model, rows)
    raw = model.predict(rows) if space == "score" else np.log(model.predict(rows))
    assert explanation.output_space == space
    assert np.abs(explanation.values - values).max() < 1e-5
    assert np.abs(explanation.base_values - expected[0]).max() < 1e-5
    assert np.abs(explanation.predictions - raw).max() < 1e-9
    assert explanation.additivity_error.max() < 1e-4 * max(1.0, np.abs(raw).max())


def test_trees_after_scalers_are_explained_on_the_scaled_columns(cancer):
    X, y = cancer
    model = make_pipeline(
        StandardScaler(), MinMaxScaler(), ExtraTreesClassifier(n_estimators=10, random_state=0)
    )
    model.fit(X, y)
    rows = X[:50]

    explanation = SklearnTreeExplainer(model).explain(rows)

    values, _ = _shap(model[-1], model[:-1].transform(rows))
    assert np.abs(explanation.values - values[:, :, 1]).max() < 1e-5
    assert np.array_equal(explanation.predictions, model.predict_proba(rows)[:, 1])
    assert explanation.additivity_error.max() < 1e-4
    assert explanation.params["scalers"] == ["StandardScaler", "MinMaxScaler"]


def test_the_explanation_describes_itself(boosted, cancer):
    X, _ = cancer

    explanation = SklearnTreeExplainer(boosted).explain(X[:3])

    assert explanation.method == "tree"
    assert explanation.device == "cpu"
    assert explanation.params == {
        "algorithm": "shap TreeExplainer",
        "feature_perturbation": "tree_path_dependent",
        "model_output": "raw",
        "model": "HistGradientBoostingClassifier",
        "scalers": [],
    }
    assert explanation.versions["shap"] == shap.__version__
    json.dumps(explanation.meta)


def test_concurrent_calls_give_the_same_numbers(forest, cancer):
    X, _ = cancer
    explainer = SklearnTreeExplainer(forest)
    expected = explainer.explain(X[:40]).values

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: explainer.explain(X[:40]).values, range(8)))

    assert all(np.array_equal(result, expected) for result in results)


def test_tree_models_default_to_treeshap_through_the_factory(forest, cancer):
    X, _ = cancer

    method = auto_method("sklearn", n_columns=30, model=forest)
    explainer = make_explainer(method, model=forest, background=None, framework="sklearn")

    assert method == "tree"
    assert isinstance(explainer, SklearnTreeExplainer)
    assert explainer.explain(X[:2]).additivity_error.max() < 1e-4


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda: GradientBoostingClassifier(n_estimators=3), "of two classes only"),
        (lambda: GradientBoostingRegressor(n_estimators=3, init="zero"), "custom init estimator"),
    ],
    ids=["multiclass gradient boosting", "a custom init"],
)
def test_models_shap_cannot_explain_exactly_are_refused_and_get_no_default(make, problem):
    X, y = load_wine(return_X_y=True)
    model = make().fit(X, y)

    with pytest.raises(ValueError, match=problem):
        SklearnTreeExplainer(model)
    assert sklearn_method(model) is None


def test_values_that_do_not_add_up_to_the_model_are_an_error(forest, cancer):
    # The forest is refitted after the explainer read its trees: shap's values then describe
    # another model, and the check against the estimator's own output must say so.
    X, y = cancer
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    explainer = SklearnTreeExplainer(model)
    model.fit(X, 1 - y)

    with pytest.raises(ExplanationError, match="do not add up to the model's output"):
        explainer.explain(X[:20])
