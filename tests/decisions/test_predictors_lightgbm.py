"""The LightGBM predictor loads text models, predicts what the booster predicts, and refuses
text LightGBM's own loader would crash or hang on (no database)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

from decisions.predictors import ArtifactError, load_predictor
from decisions.predictors.lightgbm import LightGBMPredictor

ROOT = Path(__file__).resolve().parents[2]


def _train(objective: str, loader, **params) -> tuple[lgb.Booster, np.ndarray]:
    X, y = loader(return_X_y=True)
    settings = {"objective": objective, "num_leaves": 7, "verbose": -1, "seed": 0, "num_threads": 2, **params}
    return lgb.train(settings, lgb.Dataset(X, y), num_boost_round=15), X


@pytest.fixture(scope="module")
def binary():
    return _train("binary", load_breast_cancer)


def test_a_binary_booster_gives_both_class_probabilities(binary, tmp_path):
    booster, X = binary
    path = tmp_path / "model.txt"
    booster.save_model(path)

    predictor = load_predictor("lightgbm", path.read_bytes())

    assert isinstance(predictor, LightGBMPredictor)
    assert predictor.n_columns == 30
    assert predictor.objective == "binary"
    proba = predictor.predict_proba(X)
    expected = booster.predict(X)
    assert proba.shape == (569, 2)
    assert np.array_equal(proba[:, 1], expected)
    assert np.array_equal(proba[:, 0], 1.0 - expected)
    assert len(np.unique(expected)) > 100


def test_a_multiclass_booster_gives_one_column_per_class():
    booster, X = _train("multiclass", load_wine, num_class=3)

    predictor = LightGBMPredictor(booster.model_to_string().encode())

    proba = predictor.predict_proba(X)
    assert proba.shape == (178, 3)
    assert np.array_equal(proba, booster.predict(X))
    assert np.allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize("objective", ["regression", "huber", "poisson"])
def test_a_regression_gives_its_prediction_in_one_column(objective):
    booster, X = _train(objective, load_diabetes)

    predictor = LightGBMPredictor(booster.model_to_string().encode())

    scores = predictor.predict_proba(X)
    assert predictor.n_columns == 10
    assert scores.shape == (442, 1)
    assert np.array_equal(scores[:, 0], booster.predict(X))


def test_categorical_splits_load_and_predict_as_the_booster_does():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3))
    X[:, 0] = rng.integers(0, 12, 600)
    y = (np.isin(X[:, 0], [1, 4, 7, 9]) ^ (X[:, 1] > 0.8)).astype(int)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 4, "min_data_per_group": 5, "cat_smooth": 1},
        lgb.Dataset(X, y, categorical_feature=[0]),
        num_boost_round=5,
    )
    assert "num_cat=1" in booster.model_to_string()

    predictor = LightGBMPredictor(booster.model_to_string().encode())

    assert np.array_equal(predictor.predict_proba(X)[:, 1], booster.predict(X))


def _cut_inside_a_split_list(text: str) -> str:
    return text[: text.index("\n", text.index("Tree=2")) + 40]


def _out_of_range(field: str, value: str):
    return lambda text: re.sub(rf"(\n{field}=)\S+", rf"\g<1>{value}", text, count=1)


# Each of these aborted, crashed or hung the process inside LightGBM 4.7 before the checks.
MALFORMED = {
    "cut inside a tree": (_cut_inside_a_split_list, "has no 'end of trees' line"),
    "cut inside the parameters": (
        lambda t: t[: t.index("end of parameters") + 3],
        "parameters section does not end",
    ),
    "a parameter without its colon": (
        lambda t: t.replace("[bagging_freq: 0]", "99 0]"),
        "a line of its parameters section is not [name: value]",
    ),
    "a child beyond the tree": (
        _out_of_range("left_child", "99"),
        "tree 0 of the LightGBM model is malformed",
    ),
    "a child pointing at the root": (_out_of_range("left_child", "0"), "its nodes do not form a tree"),
    "a column the model lacks": (
        _out_of_range("split_feature", "77"),
        "a split uses a column the model does not have",
    ),
    "an unknown decision type": (
        _out_of_range("decision_type", "255"),
        "a split has an unknown decision type",
    ),
    "a categorical split without categories": (
        _out_of_range("decision_type", "1"),
        "a categorical split points outside its category sets",
    ),
    "a section inside the trees": (
        lambda t: t.replace("\nTree=1\n", "\nparameters:\n\nTree=1\n"),
        "its sections are out of order",
    ),
}


def test_malformed_text_is_refused_and_the_process_survives(binary):
    """In a child process, so that a regression crashes that process and fails this test."""
    booster, _ = binary
    text = booster.model_to_string()
    cases = {name: change(text) for name, (change, _) in MALFORMED.items()}
    script = (
        "import json, sys\n"
        "from decisions.predictors.lightgbm import LightGBMPredictor\n"
        "from decisions.predictors.base import ArtifactError\n"
        "results = {}\n"
        "for name, text in json.load(sys.stdin).items():\n"
        "    try:\n"
        "        LightGBMPredictor(text.encode()).predict_proba([[0.0] * 30])\n"
        "        results[name] = 'loaded'\n"
        "    except ArtifactError as exc:\n"
        "        results[name] = str(exc)\n"
        "print(json.dumps(results))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)
    for name, (_, problem) in MALFORMED.items():
        assert problem in results[name], name


@pytest.mark.parametrize(
    ("artifact", "problem"),
    [
        (b"garbage, not a model", "not a LightGBM text model: it does not begin with LightGBM's header"),
        (np.random.default_rng(3).bytes(4096), "not a LightGBM text model: it is not UTF-8 text"),
        (b"", "not a LightGBM text model: it does not begin with LightGBM's header"),
        (
            b"tree\nversion=v4\nnum_class=1\n",
            "the LightGBM model is incomplete: it has no 'end of trees' line",
        ),
        (
            b"tree\nversion=v4\n\nend of trees\n",
            "the LightGBM model is malformed: it has no max_feature_idx field",
        ),
    ],
    ids=["text", "random bytes", "empty", "header only", "no trees"],
)
def test_what_is_not_a_model_is_refused_by_name(artifact, problem):
    with pytest.raises(ArtifactError) as refused:
        LightGBMPredictor(artifact)

    message = str(refused.value)
    assert message.startswith(problem)
    assert "/" not in message
    assert "Traceback" not in message


def test_a_check_failure_in_lightgbm_is_reported_without_its_source_path(binary):
    booster, _ = binary
    text = re.sub(r"(\nleaf_value=)\S+ ", r"\g<1>", booster.model_to_string(), count=1)

    with pytest.raises(ArtifactError) as refused:
        LightGBMPredictor(text.encode())

    message = str(refused.value)
    assert message.startswith("not a loadable LightGBM model: Check failed")
    assert "/" not in message


def test_rows_of_the_wrong_width_are_refused(binary):
    booster, X = binary
    predictor = LightGBMPredictor(booster.model_to_string().encode())

    with pytest.raises(ValueError, match=r"expected rows of 30 columns, got an array of shape \(2, 29\)"):
        predictor.predict_proba(X[:2, :29])


def test_threads_predicting_at_once_each_get_their_own_rows_results(binary):
    booster, X = binary
    predictor = LightGBMPredictor(booster.model_to_string().encode())
    expected = predictor.predict_proba(X)
    mismatches: list[int] = []
    start = threading.Barrier(4)

    def predict(offset: int) -> None:
        start.wait()
        for _ in range(5):
            for i in range(offset, len(X), 4):
                if not np.array_equal(predictor.predict_proba(X[i : i + 1])[0], expected[i]):
                    mismatches.append(i)

    threads = [threading.Thread(target=predict, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert mismatches == []
