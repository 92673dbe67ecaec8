"""TreeExplainer: XGBoost's exact TreeSHAP, checked against shap's own TreeExplainer."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import shap
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, make_classification

from explanations.engine import TreeExplainer, detect_devices, library_versions


@pytest.fixture(scope="module")
def cancer() -> tuple[xgb.Booster, np.ndarray]:
    X, y = load_breast_cancer(return_X_y=True)
    params = {"objective": "binary:logistic", "max_depth": 3, "seed": 0, "nthread": 2}
    booster = xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=20)
    return booster, X


@pytest.fixture(scope="module")
def three_classes() -> tuple[xgb.Booster, np.ndarray]:
    X, y = make_classification(n_samples=400, n_features=8, n_informative=5, n_classes=3, random_state=0)
    params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "seed": 0}
    booster = xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=20)
    return booster, X


def test_binary_values_equal_shap_tree_explainer(cancer):
    booster, X = cancer
    rows = X[:120]

    explanation = TreeExplainer(booster).explain(rows)

    reference = shap.TreeExplainer(booster)
    expected_values = reference.shap_values(rows)
    # Read only after shap_values(): before the first call it is wrong (a known shap trap).
    expected_base = float(np.asarray(reference.expected_value).reshape(-1)[0])
    margin = booster.predict(xgb.DMatrix(rows), output_margin=True)
    assert explanation.values.shape == (120, 30)
    assert np.abs(explanation.values - expected_values).max() < 1e-5
    assert np.abs(explanation.base_values - expected_base).max() < 1e-5
    assert np.abs(explanation.predictions - margin).max() < 1e-6
    assert explanation.additivity_error.max() < 1e-4


def test_binary_explanation_describes_itself(cancer):
    booster, X = cancer

    explanation = TreeExplainer(booster, device="cpu").explain(X[:5])

    assert explanation.method == "tree"
    assert explanation.output_space == "log_odds"
    assert explanation.explained_class.tolist() == [1, 1, 1, 1, 1]
    assert explanation.device == "cpu"
    assert explanation.params == {
        "algorithm": "xgboost pred_contribs",
        "feature_perturbation": "tree_path_dependent",
        "objective": "binary:logistic",
        "num_boosted_rounds": 20,
    }
    assert explanation.versions == library_versions()
    assert explanation.versions["xgboost"] == xgb.__version__
    assert explanation.values.dtype == np.float64
    assert explanation.explained_class.dtype == np.int64
    assert explanation.compute_seconds > 0
    json.dumps(explanation.meta)  # what the service stores must serialise as is


def test_batch_equals_one_row_at_a_time(cancer):
    booster, X = cancer
    explainer = TreeExplainer(booster)

    batch = explainer.explain(X[:10])
    single = [explainer.explain(X[i : i + 1]) for i in range(10)]

    assert np.abs(batch.values - np.vstack([s.values for s in single])).max() < 1e-6
    assert np.abs(batch.predictions - np.hstack([s.predictions for s in single])).max() < 1e-6


def test_class_zero_is_the_negated_margin(cancer):
    booster, X = cancer
    explainer = TreeExplainer(booster)

    positive = explainer.explain(X[:6])
    mixed = explainer.explain(X[:6], classes=np.array([0, 1, 0, 1, 0, 1]))

    sign = np.array([-1, 1, -1, 1, -1, 1])
    assert mixed.explained_class.tolist() == [0, 1, 0, 1, 0, 1]
    assert np.array_equal(mixed.values, positive.values * sign[:, None])
    assert np.array_equal(mixed.predictions, positive.predictions * sign)
    assert mixed.additivity_error.max() < 1e-4


def test_multiclass_explains_the_predicted_class(three_classes):
    booster, X = three_classes
    rows = X[:50]

    explanation = TreeExplainer(booster).explain(rows)

    probabilities = booster.predict(xgb.DMatrix(rows))
    predicted = probabilities.argmax(axis=1)
    per_class = shap.TreeExplainer(booster).shap_values(rows)  # (n, columns, classes)
    assert explanation.explained_class.tolist() == predicted.tolist()
    expected = per_class[np.arange(50), :, predicted]
    assert np.abs(explanation.values - expected).max() < 1e-5
    margins = booster.predict(xgb.DMatrix(rows), output_margin=True)
    assert np.abs(explanation.predictions - margins[np.arange(50), predicted]).max() < 1e-6
    assert explanation.additivity_error.max() < 1e-4


def test_multiclass_explains_the_classes_asked_for(three_classes):
    booster, X = three_classes
    explainer = TreeExplainer(booster)

    explanation = explainer.explain(X[:4], classes=np.array([2, 0, 1, 2]))

    margins = booster.predict(xgb.DMatrix(X[:4]), output_margin=True)
    assert explanation.explained_class.tolist() == [2, 0, 1, 2]
    assert np.abs(explanation.predictions - margins[np.arange(4), [2, 0, 1, 2]]).max() < 1e-6
    assert explanation.additivity_error.max() < 1e-4
    with pytest.raises(ValueError, match="out of range"):
        explainer.explain(X[:2], classes=np.array([0, 3]))


def test_concurrent_calls_give_the_same_numbers(cancer):
    booster, X = cancer
    explainer = TreeExplainer(booster)
    expected = explainer.explain(X[:40]).values

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: explainer.explain(X[:40]).values, range(8)))

    assert all(np.array_equal(result, expected) for result in results)


def test_rejects_rows_of_the_wrong_width(cancer):
    booster, X = cancer

    with pytest.raises(ValueError, match=r"shape \(n, 30\)"):
        TreeExplainer(booster).explain(X[:3, :29])


def test_cuda_without_a_gpu_is_refused(cancer):
    booster, _ = cancer
    if detect_devices()["xgboost_cuda"]:
        pytest.skip("this machine has a CUDA xgboost and a GPU")

    with pytest.raises(ValueError, match="device='cuda'"):
        TreeExplainer(booster, device="cuda")
    assert TreeExplainer(booster, device="auto").device == "cpu"
