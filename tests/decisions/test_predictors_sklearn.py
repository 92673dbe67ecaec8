"""The scikit-learn predictor loads skops files of the trusted models only, and predicts what
the estimator itself predicts (no database)."""

from __future__ import annotations

import io
import pickle
import threading

import joblib
import numpy as np
import pytest
import skops.io
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    RobustScaler,
    StandardScaler,
)
from sklearn.tree import DecisionTreeClassifier

from decisions.predictors import ArtifactError, load_predictor
from decisions.predictors.sklearn import TRUSTED_TYPES, SklearnPredictor


class ShiftedScaler(TransformerMixin, BaseEstimator):
    """A custom class: its code lives in this module, not in the file, so it must be refused."""

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        return X + 1.0


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(return_X_y=True)


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


@pytest.fixture(scope="module")
def fitted(cancer):
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(*cancer)


def _classifiers():
    return [
        (
            "scaled logistic",
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
            load_breast_cancer,
        ),
        ("logistic of wine", make_pipeline(RobustScaler(), LogisticRegression(max_iter=2000)), load_wine),
        ("forest of iris", RandomForestClassifier(n_estimators=10, random_state=0), load_iris),
        (
            "boosted trees",
            GradientBoostingClassifier(n_estimators=10, subsample=0.8, random_state=0),
            load_breast_cancer,
        ),
        ("hist boosted trees", HistGradientBoostingClassifier(max_iter=10, random_state=0), load_wine),
        ("decision tree", DecisionTreeClassifier(max_depth=4, random_state=0), load_breast_cancer),
    ]


def _regressors():
    return [
        ("least squares", LinearRegression(), None),
        ("ridge after scalers", make_pipeline(MinMaxScaler(), MaxAbsScaler(), Ridge(alpha=0.5)), None),
        ("lasso", Lasso(alpha=0.1), None),
        ("elastic net", ElasticNet(alpha=0.01), None),
        ("extra trees", ExtraTreesRegressor(n_estimators=10, random_state=0), None),
        ("boosted huber", GradientBoostingRegressor(n_estimators=10, loss="huber", random_state=0), None),
        ("hist boosted poisson", HistGradientBoostingRegressor(max_iter=10, loss="poisson"), None),
    ]


@pytest.mark.parametrize(("name", "model", "loader"), _classifiers(), ids=[c[0] for c in _classifiers()])
def test_a_classifier_gives_its_own_class_probabilities(name, model, loader):
    X, y = loader(return_X_y=True)
    model.fit(X, y)

    predictor = load_predictor("sklearn", skops.io.dumps(model))

    assert isinstance(predictor, SklearnPredictor)
    assert type(predictor.model) is type(model)
    assert predictor.n_columns == X.shape[1]
    proba = predictor.predict_proba(X)
    assert proba.dtype == np.float64
    assert proba.shape == (len(X), len(np.unique(y)))
    assert np.array_equal(proba, model.predict_proba(X))
    assert len(np.unique(proba[:, -1])) > 1


@pytest.mark.parametrize(("name", "model", "loader"), _regressors(), ids=[r[0] for r in _regressors()])
def test_a_regression_gives_its_prediction_in_one_column(name, model, loader, diabetes):
    X, y = diabetes
    model.fit(X, y)

    predictor = SklearnPredictor(skops.io.dumps(model))

    scores = predictor.predict_proba(X)
    assert predictor.n_columns == 10
    assert scores.shape == (len(X), 1)
    assert np.array_equal(scores[:, 0], model.predict(X))
    assert len(np.unique(scores)) > 10


def test_a_model_fitted_on_string_labels_keeps_their_order(cancer):
    X, y = cancer
    model = HistGradientBoostingClassifier(max_iter=5).fit(X, np.array(["declined", "granted"])[y])

    predictor = SklearnPredictor(skops.io.dumps(model))

    assert predictor.model.classes_.tolist() == ["declined", "granted"]
    assert np.array_equal(predictor.predict_proba(X[:20]), model.predict_proba(X[:20]))


@pytest.mark.parametrize("compress", [0, 3, "gzip", "bz2", "xz", "lzma"])
def test_joblib_files_are_refused_before_anything_is_unpickled(fitted, compress):
    buffer = io.BytesIO()
    joblib.dump(fitted, buffer, compress=compress)

    with pytest.raises(ArtifactError) as refused:
        SklearnPredictor(buffer.getvalue())

    message = str(refused.value)
    assert "pickle and joblib files are refused" in message
    assert "skops.io.dump" in message


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pickle_files_are_refused(fitted, protocol):
    with pytest.raises(ArtifactError, match="pickle and joblib files are refused.*skops.io.dump"):
        SklearnPredictor(pickle.dumps(fitted, protocol=protocol))


def test_a_class_from_outside_the_trusted_list_is_named_and_refused(cancer):
    X, y = cancer
    model = make_pipeline(ShiftedScaler(), StandardScaler(), LogisticRegression()).fit(X, y)

    with pytest.raises(ArtifactError) as refused:
        SklearnPredictor(skops.io.dumps(model))

    message = str(refused.value)
    assert message == (
        "the skops file holds types outside the trusted list: "
        "tests.decisions.test_predictors_sklearn.ShiftedScaler"
    )


def test_a_function_inside_a_function_transformer_is_refused(cancer):
    X, y = cancer
    model = make_pipeline(FunctionTransformer(np.log1p), StandardScaler(), LogisticRegression()).fit(X, y)

    with pytest.raises(ArtifactError) as refused:
        SklearnPredictor(skops.io.dumps(model))

    message = str(refused.value)
    assert message.startswith("the skops file holds types outside the trusted list: ")
    assert "numpy.log1p" in message
    assert "FunctionTransformer" in message


def test_an_estimator_skops_trusts_but_the_list_does_not_is_refused(cancer):
    # skops trusts every scikit-learn estimator by default; this adapter only its list.
    X, y = cancer
    model = KNeighborsClassifier().fit(X, y)

    with pytest.raises(
        ArtifactError, match=r"outside the trusted list: sklearn\.neighbors\.\S*KNeighborsClassifier"
    ):
        SklearnPredictor(skops.io.dumps(model))


@pytest.mark.parametrize(
    ("artifact", "problem"),
    [
        (np.random.default_rng(7).bytes(2048), "not a skops file: save the model with skops.io.dump"),
        (b"", "not a skops file: save the model with skops.io.dump"),
        (
            skops.io.dumps(StandardScaler().fit(np.eye(3))),
            "the skops file holds a StandardScaler, not an estimator",
        ),
        (skops.io.dumps(LogisticRegression()), "the LogisticRegression in the skops file is not fitted"),
    ],
    ids=["random bytes", "empty", "a scaler", "unfitted"],
)
def test_what_is_not_a_fitted_model_is_refused_by_name(artifact, problem):
    with pytest.raises(ArtifactError) as refused:
        SklearnPredictor(artifact)

    message = str(refused.value)
    assert message.startswith(problem)
    assert "/" not in message.replace("skops.io.dump", "")
    assert "Traceback" not in message


def test_a_regression_of_several_targets_is_refused(diabetes):
    X, y = diabetes
    model = Ridge().fit(X, np.column_stack([y, -y]))

    with pytest.raises(ArtifactError, match="predicts 2 values per row; only single-output"):
        SklearnPredictor(skops.io.dumps(model))


def test_trusted_types_name_no_function_and_no_pickle_loader():
    assert all(name.startswith(("sklearn.", "numpy.", "builtins.")) for name in TRUSTED_TYPES)
    assert not any("FunctionTransformer" in name or "partial" in name for name in TRUSTED_TYPES)


def test_rows_of_the_wrong_width_are_refused(cancer, fitted):
    predictor = SklearnPredictor(skops.io.dumps(fitted))

    with pytest.raises(ValueError, match=r"expected rows of 30 columns, got an array of shape \(2, 29\)"):
        predictor.predict_proba(cancer[0][:2, :29])


def test_threads_predicting_at_once_each_get_their_own_rows_results(cancer):
    X, y = cancer
    model = RandomForestClassifier(n_estimators=20, n_jobs=4, random_state=0).fit(X, y)
    predictor = SklearnPredictor(skops.io.dumps(model))
    expected = model.predict_proba(X)
    mismatches: list[int] = []
    start = threading.Barrier(4)

    def predict(offset: int) -> None:
        start.wait()
        for i in range(offset, 200, 4):
            if not np.array_equal(predictor.predict_proba(X[i : i + 1])[0], expected[i]):
                mismatches.append(i)

    threads = [threading.Thread(target=predict, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert mismatches == []
    assert predictor.model.n_jobs == 1  # one row at a time needs no thread pool
