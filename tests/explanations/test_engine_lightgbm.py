"""LightGBMTreeExplainer: LightGBM's exact TreeSHAP, checked against its own pred_contrib, shap's
TreeExplainer, and the booster's raw score."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import lightgbm as lgb
import numpy as np
import pytest
import shap
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

from explanations.engine import make_explainer
from explanations.engine.lightgbm_tree import LightGBMTreeExplainer


def _train(objective: str, loader, rounds: int = 20, **params) -> tuple[lgb.Booster, np.ndarray]:
    X, y = loader(return_X_y=True)
    settings = {"objective": objective, "num_leaves": 7, "verbose": -1, "seed": 0, "num_threads": 2, **params}
    return lgb.train(settings, lgb.Dataset(X, y), num_boost_round=rounds), X


@pytest.fixture(scope="module")
def binary():
    return _train("binary", load_breast_cancer)


@pytest.fixture(scope="module")
def three_classes():
    return _train("multiclass", load_wine, num_class=3)


@pytest.mark.filterwarnings("ignore:LightGBM binary classifier:UserWarning")  # shap's, about its own output
def test_binary_values_equal_pred_contrib_and_shap(binary):
    booster, X = binary
    rows = X[:120]

    explanation = LightGBMTreeExplainer(booster, num_threads=2).explain(rows)

    contribs = booster.predict(rows, pred_contrib=True)
    reference = shap.TreeExplainer(booster)
    assert explanation.output_space == "log_odds"
    assert explanation.explained_class.tolist() == [1] * 120
    assert np.abs(explanation.values - contribs[:, :-1]).max() < 1e-12
    assert np.abs(explanation.values - reference.shap_values(rows)).max() < 1e-5
    assert (
        np.abs(explanation.base_values - float(np.asarray(reference.expected_value).reshape(-1)[0])).max()
        < 1e-5
    )
    assert np.array_equal(explanation.predictions, booster.predict(rows, raw_score=True))
    assert explanation.additivity_error.max() < 1e-4
    assert np.abs(explanation.values).max() > 0.1


def test_binary_predictions_are_the_log_odds_of_the_probability(binary):
    booster, X = binary

    explanation = LightGBMTreeExplainer(booster).explain(X[:50])

    probability = booster.predict(X[:50])
    assert np.abs(explanation.predictions - np.log(probability / (1 - probability))).max() < 1e-9


def test_a_sigmoid_other_than_one_is_folded_into_the_log_odds():
    # LightGBM's probability is 1 / (1 + exp(-sigmoid * raw)): the log-odds is sigmoid * raw.
    booster, X = _train("binary", load_breast_cancer, rounds=10, sigmoid=2.5)

    explanation = LightGBMTreeExplainer(booster).explain(X[:50])

    probability = booster.predict(X[:50])
    raw = booster.predict(X[:50], pred_contrib=True)
    assert np.abs(explanation.predictions - np.log(probability / (1 - probability))).max() < 1e-9
    assert np.abs(explanation.values - 2.5 * raw[:, :-1]).max() < 1e-12
    assert explanation.additivity_error.max() < 1e-4
    assert explanation.params["log_odds_scale"] == 2.5


def test_class_zero_is_the_negated_log_odds(binary):
    booster, X = binary
    explainer = LightGBMTreeExplainer(booster)

    positive = explainer.explain(X[:6])
    mixed = explainer.explain(X[:6], classes=np.array([0, 1, 0, 1, 0, 1]))

    sign = np.array([-1, 1, -1, 1, -1, 1])
    assert mixed.explained_class.tolist() == [0, 1, 0, 1, 0, 1]
    assert np.array_equal(mixed.values, positive.values * sign[:, None])
    assert np.array_equal(mixed.predictions, positive.predictions * sign)
    assert mixed.additivity_error.max() < 1e-4


def test_multiclass_explains_each_rows_predicted_class(three_classes):
    booster, X = three_classes
    rows = X[::2]
    n = len(rows)

    explanation = LightGBMTreeExplainer(booster).explain(rows)

    # LightGBM lays out one block of (13 columns + bias) per class.
    contribs = booster.predict(rows, pred_contrib=True).reshape(n, 3, 14)
    per_class = shap.TreeExplainer(booster).shap_values(rows)  # (n, columns, classes)
    predicted = booster.predict(rows).argmax(axis=1)
    index = np.arange(n)
    assert explanation.explained_class.tolist() == predicted.tolist()
    assert len(set(predicted.tolist())) == 3
    assert np.abs(explanation.values - contribs[index, predicted, :-1]).max() < 1e-12
    assert np.abs(explanation.values - per_class[index, :, predicted]).max() < 1e-5
    assert np.abs(explanation.base_values - contribs[index, predicted, -1]).max() < 1e-12
    raw = booster.predict(rows, raw_score=True)
    assert np.array_equal(explanation.predictions, raw[index, predicted])
    assert explanation.additivity_error.max() < 1e-4


def test_multiclass_explains_the_classes_asked_for(three_classes):
    booster, X = three_classes
    explainer = LightGBMTreeExplainer(booster)

    explanation = explainer.explain(X[:4], classes=np.array([2, 0, 1, 2]))

    raw = booster.predict(X[:4], raw_score=True)
    assert explanation.explained_class.tolist() == [2, 0, 1, 2]
    assert np.array_equal(explanation.predictions, raw[np.arange(4), [2, 0, 1, 2]])
    assert explanation.additivity_error.max() < 1e-4
    with pytest.raises(ValueError, match="out of range"):
        explainer.explain(X[:2], classes=np.array([0, 3]))


def test_a_regression_is_explained_in_its_own_units():
    booster, X = _train("regression", load_diabetes)
    rows = X[:100]

    explanation = LightGBMTreeExplainer(booster).explain(rows)

    contribs = booster.predict(rows, pred_contrib=True)
    assert explanation.output_space == "score"
    assert explanation.explained_class.tolist() == [0] * 100
    assert np.abs(explanation.values - shap.TreeExplainer(booster).shap_values(rows)).max() < 1e-5
    assert np.abs(explanation.values - contribs[:, :-1]).max() < 1e-12
    assert np.array_equal(explanation.predictions, booster.predict(rows))
    assert explanation.additivity_error.max() < 1e-4 * np.abs(explanation.predictions).max()
    with pytest.raises(ValueError, match="out of range"):
        LightGBMTreeExplainer(booster).explain(rows[:1], classes=np.array([1]))


def test_a_poisson_regression_is_explained_before_its_log_link():
    booster, X = _train("poisson", load_diabetes)

    explanation = LightGBMTreeExplainer(booster).explain(X[:40])

    assert explanation.output_space == "margin"
    assert np.abs(np.exp(explanation.predictions) - booster.predict(X[:40])).max() < 1e-9
    assert explanation.additivity_error.max() < 1e-4


def test_the_explanation_describes_itself(binary):
    booster, X = binary

    explanation = make_explainer("tree", model=booster, background=None, framework="lightgbm").explain(X[:3])

    assert explanation.method == "tree"
    assert explanation.device == "cpu"
    assert explanation.params == {
        "algorithm": "lightgbm pred_contrib",
        "feature_perturbation": "tree_path_dependent",
        "objective": "binary",
        "num_trees": 20,
    }
    assert explanation.versions["lightgbm"] == lgb.__version__
    json.dumps(explanation.meta)


def test_batch_equals_one_row_at_a_time(three_classes):
    booster, X = three_classes
    explainer = LightGBMTreeExplainer(booster)

    batch = explainer.explain(X[:10])
    single = [explainer.explain(X[i : i + 1]) for i in range(10)]

    assert np.abs(batch.values - np.vstack([s.values for s in single])).max() < 1e-12
    assert batch.explained_class.tolist() == [s.explained_class[0] for s in single]


def test_concurrent_calls_give_the_same_numbers(binary):
    booster, X = binary
    explainer = LightGBMTreeExplainer(booster, num_threads=2)
    expected = explainer.explain(X[:40]).values

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: explainer.explain(X[:40]).values, range(8)))

    assert all(np.array_equal(result, expected) for result in results)


def test_rejects_rows_of_the_wrong_width(binary):
    booster, X = binary

    with pytest.raises(ValueError, match=r"shape \(n, 30\)"):
        LightGBMTreeExplainer(booster).explain(X[:3, :29])
