"""ExactExplainer: full enumeration over ONNX models equals brute-force Shapley values."""

from __future__ import annotations

import numpy as np
import pytest
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import Ridge
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from decisions.predictors.onnx import OnnxPredictor
from explanations.engine.exact import ExactExplainer
from explanations.engine.factory import make_explainer
from tests.explanations.test_engine_kernel import brute_force_shapley


def breast_cancer_onnx(n_columns: int) -> tuple[OnnxPredictor, np.ndarray]:
    """An MLP on the first n_columns of load_breast_cancer, through skl2onnx and onnxruntime."""
    X, y = load_breast_cancer(return_X_y=True)
    X = X[:, :n_columns]
    model = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=600, random_state=0)
    ).fit(X, y)
    artifact = to_onnx(model, X[:1].astype(np.float32), options={"zipmap": False})
    return OnnxPredictor(artifact.SerializeToString(), None), X


@pytest.fixture(scope="module")
def classifier():
    return breast_cancer_onnx(6)


def test_enumeration_equals_brute_force_shapley(classifier):
    predictor, X = classifier
    background, rows = X[::30], X[[1, 7, 19, 40, 77, 300]]
    explainer = make_explainer("exact", model=predictor.predict_proba, background=background)

    explanation = explainer.explain(rows)

    proba = predictor.predict_proba(rows)
    assert explanation.explained_class.tolist() == proba.argmax(axis=1).tolist()
    assert len(set(explanation.explained_class.tolist())) == 2  # both classes explained
    for i, x in enumerate(rows):
        c = explanation.explained_class[i]
        expected = brute_force_shapley(lambda Z, c=c: predictor.predict_proba(Z)[:, c], x, background)
        assert np.abs(explanation.values[i] - expected).max() < 1e-6
    assert np.array_equal(explanation.predictions, proba[np.arange(6), explanation.explained_class])
    expected_base = predictor.predict_proba(background).mean(axis=0)[explanation.explained_class]
    assert np.allclose(explanation.base_values, expected_base, rtol=0, atol=1e-12)
    assert explanation.additivity_error.max() < 1e-6
    assert np.abs(explanation.values).max() > 0.01  # a real explanation, not zeros
    assert explanation.method == "exact" and explanation.output_space == "probability"
    assert explanation.params == {"background_rows": 19, "coalitions": 64}


def test_chosen_classes_and_small_calls_give_the_same_values(classifier):
    predictor, X = classifier
    background, rows = X[::30], X[[1, 7, 19]]
    explainer = ExactExplainer(predictor.predict_proba, background)
    # Fewer model rows per call than one row's coalitions: the masks are split across calls.
    small = ExactExplainer(predictor.predict_proba, background, batch_rows=100)

    negative = explainer.explain(rows, classes=np.array([0, 0, 0]))
    positive = small.explain(rows, classes=1)

    assert negative.explained_class.tolist() == [0, 0, 0]
    assert positive.explained_class.tolist() == [1, 1, 1]
    # The two probabilities sum to one, so class 1's attributions are class 0's negated.
    assert np.abs(positive.values + negative.values).max() < 1e-6
    assert np.abs(positive.base_values + negative.base_values - 1).max() < 1e-6
    assert positive.additivity_error.max() < 1e-6
    with pytest.raises(ValueError, match="out of range"):
        explainer.explain(rows, classes=2)


def test_regression_is_explained_in_score_space():
    X, y = load_diabetes(return_X_y=True)
    model = Ridge(alpha=0.1).fit(X, y)
    predictor = OnnxPredictor(to_onnx(model, X[:1].astype(np.float32)).SerializeToString(), None)
    background, rows = X[::20], X[[3, 50, 200]]
    explainer = ExactExplainer(predictor.predict_proba, background, output_space="score")

    explanation = explainer.explain(rows)

    assert explanation.output_space == "score"
    assert explanation.explained_class.tolist() == [0, 0, 0]
    assert np.abs(explanation.predictions - model.predict(rows)).max() < 1e-4
    # A linear model's interventional Shapley values are coef * (x - mean background).
    linear = model.coef_ * (rows - background.mean(axis=0))
    assert np.abs(explanation.values - linear).max() < 1e-3
    assert explanation.additivity_error.max() < 1e-6


def test_more_than_twelve_columns_are_refused():
    predictor, X = breast_cancer_onnx(13)

    with pytest.raises(ValueError, match="limited to 12 columns: use the permutation method"):
        ExactExplainer(predictor.predict_proba, X[:10])
