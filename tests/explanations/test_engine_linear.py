"""LinearExplainer: exact Linear SHAP of scikit-learn linear models, checked against shap's own
LinearExplainer and against the model's margin."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shap
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    RobustScaler,
    StandardScaler,
)

from explanations.engine.linear import LinearExplainer
from explanations.engine.sklearn_support import sklearn_method

# shap's Independent masker keeps at most 100 background rows: with 100 both use the same ones.
BACKGROUND_ROWS = 100


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    return model, X


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True)
    model = make_pipeline(RobustScaler(), LogisticRegression()).fit(X, y)
    return model, X


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


def test_a_scaled_logistic_regression_equals_shap_on_the_scaled_columns(cancer):
    model, X = cancer
    background, rows = X[:BACKGROUND_ROWS], X[200:320]

    explanation = LinearExplainer(model, background).explain(rows)

    scaler, logistic = model[0], model[-1]
    reference = shap.LinearExplainer(logistic, scaler.transform(background))
    expected = reference.shap_values(scaler.transform(rows))
    margins = model.decision_function(rows)
    assert explanation.output_space == "log_odds"
    assert explanation.explained_class.tolist() == [1] * 120
    assert np.abs(explanation.values - expected).max() < 1e-5
    assert (
        np.abs(explanation.base_values - float(np.asarray(reference.expected_value).reshape(-1)[0])).max()
        < 1e-5
    )
    assert np.array_equal(explanation.predictions, margins)
    assert explanation.additivity_error.max() < 1e-4
    assert np.abs(explanation.values).max() > 0.1


def test_the_values_are_the_raw_columns_weights_times_their_distance_from_the_mean(cancer):
    # A StandardScaler maps x_j to (x_j - mu_j) / s_j: the model is linear in the raw columns
    # with weights w_j / s_j, and phi_j = w_j / s_j * (x_j - mean of the background's x_j).
    model, X = cancer
    background, rows = X[:BACKGROUND_ROWS], X[300:310]
    raw_weights = model[-1].coef_[0] / model[0].scale_

    explanation = LinearExplainer(model, background).explain(rows)

    expected = raw_weights * (rows - background.mean(axis=0))
    assert np.abs(explanation.values - expected).max() < 1e-9


def test_class_zero_of_a_binary_model_is_the_negated_log_odds(cancer):
    model, X = cancer
    explainer = LinearExplainer(model, X[:BACKGROUND_ROWS])

    positive = explainer.explain(X[:6])
    mixed = explainer.explain(X[:6], classes=np.array([0, 1, 0, 1, 0, 1]))

    sign = np.array([-1, 1, -1, 1, -1, 1])
    assert mixed.explained_class.tolist() == [0, 1, 0, 1, 0, 1]
    assert np.array_equal(mixed.values, positive.values * sign[:, None])
    assert np.array_equal(mixed.predictions, positive.predictions * sign)
    assert mixed.additivity_error.max() < 1e-4


def test_a_multiclass_model_explains_its_predicted_class_margin(wine):
    model, X = wine
    shuffled = X[np.random.default_rng(0).permutation(len(X))]  # the data set is sorted by class
    background, rows = shuffled[:BACKGROUND_ROWS], shuffled[100:178]

    explanation = LinearExplainer(model, background).explain(rows)

    scaler, logistic = model[0], model[-1]
    per_class = shap.LinearExplainer(logistic, scaler.transform(background)).shap_values(
        scaler.transform(rows)
    )
    predicted = model.predict(rows)
    index = np.arange(len(rows))
    assert per_class.shape == (78, 13, 3)
    assert explanation.explained_class.tolist() == predicted.tolist()
    assert len(set(predicted.tolist())) == 3
    assert np.abs(explanation.values - per_class[index, :, predicted]).max() < 1e-5
    assert np.array_equal(explanation.predictions, model.decision_function(rows)[index, predicted])
    assert explanation.additivity_error.max() < 1e-4


def test_a_multiclass_model_explains_the_classes_asked_for(wine):
    model, X = wine
    explainer = LinearExplainer(model, X[:BACKGROUND_ROWS])

    explanation = explainer.explain(X[:4], classes=np.array([2, 0, 1, 2]))

    assert explanation.explained_class.tolist() == [2, 0, 1, 2]
    assert np.array_equal(explanation.predictions, model.decision_function(X[:4])[np.arange(4), [2, 0, 1, 2]])
    assert explanation.additivity_error.max() < 1e-4
    with pytest.raises(ValueError, match="out of range"):
        explainer.explain(X[:2], classes=np.array([0, 3]))


@pytest.mark.parametrize(
    "model",
    [Ridge(alpha=0.5), LinearRegression(), Lasso(alpha=0.05), ElasticNet(alpha=0.001)],
    ids=["ridge", "least squares", "lasso", "elastic net"],
)
def test_a_regression_equals_shap_in_its_own_units(model, diabetes):
    X, y = diabetes
    model.fit(X, y)
    background, rows = X[:BACKGROUND_ROWS], X[300:400]

    explanation = LinearExplainer(model, background).explain(rows)

    reference = shap.LinearExplainer(model, background)
    assert explanation.output_space == "score"
    assert explanation.explained_class.tolist() == [0] * 100
    assert np.abs(explanation.values - reference.shap_values(rows)).max() < 1e-5
    assert (
        np.abs(explanation.base_values - float(np.asarray(reference.expected_value).reshape(-1)[0])).max()
        < 1e-5
    )
    assert np.array_equal(explanation.predictions, model.predict(rows))
    assert explanation.additivity_error.max() < 1e-4


def test_a_ridge_after_a_chain_of_scalers_equals_shap_on_the_scaled_columns(diabetes):
    X, y = diabetes
    model = make_pipeline(MinMaxScaler(), MaxAbsScaler(), RobustScaler(), StandardScaler(), Ridge()).fit(X, y)
    background, rows = X[:BACKGROUND_ROWS], X[300:400]

    explanation = LinearExplainer(model, background).explain(rows)

    scalers = model[:-1]
    expected = shap.LinearExplainer(model[-1], scalers.transform(background)).shap_values(
        scalers.transform(rows)
    )
    assert np.abs(explanation.values - expected).max() < 1e-5
    assert np.abs(explanation.predictions - model.predict(rows)).max() < 1e-9
    assert explanation.additivity_error.max() < 1e-4
    assert explanation.params["scalers"] == ["MinMaxScaler", "MaxAbsScaler", "RobustScaler", "StandardScaler"]


def test_the_explanation_describes_itself(cancer):
    model, X = cancer

    explanation = LinearExplainer(model, X[:BACKGROUND_ROWS]).explain(X[:3])

    assert explanation.method == "linear"
    assert explanation.device == "cpu"
    assert explanation.params == {
        "algorithm": "linear shap",
        "feature_perturbation": "interventional",
        "model": "LogisticRegression",
        "scalers": ["StandardScaler"],
        "background_rows": 100,
    }
    assert "scikit-learn" in explanation.versions
    json.dumps(explanation.meta)


def test_batch_equals_one_row_at_a_time(wine):
    model, X = wine
    explainer = LinearExplainer(model, X[:BACKGROUND_ROWS])

    batch = explainer.explain(X[:12])
    single = [explainer.explain(X[i : i + 1]) for i in range(12)]

    assert np.abs(batch.values - np.vstack([s.values for s in single])).max() < 1e-12
    assert batch.explained_class.tolist() == [s.explained_class[0] for s in single]


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (
            lambda: RandomForestClassifier(n_estimators=2),
            "Linear SHAP explains .* got RandomForestClassifier",
        ),
        (
            lambda: make_pipeline(FunctionTransformer(np.log1p), LogisticRegression()),
            "a Pipeline step FunctionTransformer is not one of",
        ),
        (lambda: make_pipeline(MinMaxScaler(clip=True), LogisticRegression()), "MinMaxScaler with clip=True"),
    ],
    ids=["a forest", "a function", "a clipping scaler"],
)
def test_models_that_are_not_linear_in_their_columns_are_refused_by_name(make, problem, cancer):
    _, X = cancer
    model = make().fit(X, load_breast_cancer().target)

    with pytest.raises(ValueError, match=problem):
        LinearExplainer(model, X[:BACKGROUND_ROWS])
    assert sklearn_method(model) != "linear"


def test_probability_space_is_refused_for_it_is_not_linear(cancer):
    model, X = cancer

    with pytest.raises(ValueError, match="exact only for the LogisticRegression's margin \\('log_odds'\\)"):
        LinearExplainer(model, X[:BACKGROUND_ROWS], output_space="probability")
    assert LinearExplainer(model, X[:BACKGROUND_ROWS], output_space="log_odds").output_space == "log_odds"


def test_linear_models_alone_or_after_scalers_default_to_linear_shap(cancer, diabetes):
    model, _ = cancer

    assert sklearn_method(model) == "linear"
    assert sklearn_method(model[-1]) == "linear"
    assert sklearn_method(make_pipeline(MaxAbsScaler(), "passthrough", Lasso())) == "linear"
    assert sklearn_method(None) is None
