"""scikit-learn estimators and Pipelines saved with `skops.io.dump`, never pickles.

A skops file is a zip holding a JSON schema of the object and its arrays; loading rebuilds only
the types the loader is told to trust, so no code from the file runs. skops itself trusts every
scikit-learn estimator; this adapter trusts less: only TRUSTED_TYPES below, the models and
scalers a credit or benefits scorer is built from and the internal types they are saved with.
Each type in the file is checked against that list before skops rebuilds anything.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any, Final

import numpy as np

from .base import ArtifactError, Predictor
from .tree_structure import sklearn_check_trees

# Reviewed for scikit-learn 1.9 / skops 0.16: loading these sets attributes on a fresh object
# and runs no code from the file. The paths are where scikit-learn defines each class; a class
# that moves in a later release is refused until it is added here (tests load every model).
TRUSTED_TYPES: Final = (
    # the estimators
    "sklearn.pipeline.Pipeline",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._base.LinearRegression",
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.linear_model._coordinate_descent.Lasso",
    "sklearn.linear_model._coordinate_descent.ElasticNet",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._data.MinMaxScaler",
    "sklearn.preprocessing._data.MaxAbsScaler",
    "sklearn.preprocessing._data.RobustScaler",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.ensemble._forest.ExtraTreesRegressor",
    "sklearn.ensemble._gb.GradientBoostingClassifier",
    "sklearn.ensemble._gb.GradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    # what those hold once fitted: the trees of forests and boosters, a booster's initial
    # estimate, its loss and link objects, HistGradientBoosting's bins and label encoder
    "sklearn.tree._classes.ExtraTreeClassifier",
    "sklearn.tree._classes.ExtraTreeRegressor",
    "sklearn.tree._tree.Tree",
    "sklearn.dummy.DummyClassifier",
    "sklearn.dummy.DummyRegressor",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn._loss.loss.AbsoluteError",
    "sklearn._loss.loss.ExponentialLoss",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfGammaLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfPoissonLoss",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.loss.HuberLoss",
    "sklearn._loss.loss.PinballLoss",
    "sklearn._loss._loss.CyAbsoluteError",
    "sklearn._loss._loss.CyExponentialLoss",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss._loss.CyHalfGammaLoss",
    "sklearn._loss._loss.CyHalfMultinomialLoss",
    "sklearn._loss._loss.CyHalfPoissonLoss",
    "sklearn._loss._loss.CyHalfSquaredError",
    "sklearn._loss._loss.CyHuberLoss",
    "sklearn._loss._loss.CyPinballLoss",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.LogLink",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.HalfLogitLink",
    "sklearn._loss.link.MultinomialLogit",
    # containers, numbers, arrays and the random states estimators keep
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
    "numpy.ndarray",
    "numpy.dtype",
    "numpy.bool",
    "numpy.bool_",
    "numpy.float16",
    "numpy.float32",
    "numpy.float64",
    "numpy.int8",
    "numpy.int16",
    "numpy.int32",
    "numpy.int64",
    "numpy.uint8",
    "numpy.uint16",
    "numpy.uint32",
    "numpy.uint64",
    "numpy.random.mtrand.RandomState",
    "numpy.random._generator.Generator",
)

# What pickle and joblib files begin with: pickle's PROTO opcode and version, and the magic
# numbers of the compressors joblib wraps a pickle in (zlib, gzip, bz2, xz, lzma, lz4).
_PICKLE_PREFIXES: Final = tuple(b"\x80" + bytes([version]) for version in range(2, 6))
_JOBLIB_COMPRESSED_PREFIXES: Final = (
    b"\x78\x01",
    b"\x78\x5e",
    b"\x78\x9c",
    b"\x78\xda",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ",
    b"\x5d\x00\x00",
    b"\x04\x22\x4d\x18",
    b"ZF",
)
_NAMED_AT_MOST: Final = 10


class SklearnPredictor(Predictor):
    """A fitted scikit-learn classifier, regressor or Pipeline ending in one.

    Predictions only read the fitted estimator, so one instance serves concurrent calls.
    """

    framework = "sklearn"

    def __init__(self, artifact: bytes):
        self._refuse_pickles(artifact)
        untrusted = self._untrusted_types(artifact)
        if untrusted:
            named = ", ".join(untrusted[:_NAMED_AT_MOST])
            more = f" and {len(untrusted) - _NAMED_AT_MOST} more" if len(untrusted) > _NAMED_AT_MOST else ""
            raise ArtifactError(f"the skops file holds types outside the trusted list: {named}{more}")
        import skops.io

        try:
            model = skops.io.loads(artifact, trusted=list(TRUSTED_TYPES))
        except Exception as exc:  # noqa: BLE001 - skops raises many types for bad files
            raise ArtifactError(f"not a loadable skops file ({type(exc).__name__})") from None
        self.model = _fitted_predictor(model)
        self.n_columns = int(self.model.n_features_in_)
        # skops builds only trusted types, but not trusted values: a tree's node arrays are
        # read by Cython without bounds checks, so they are checked before anything predicts.
        sklearn_check_trees(self.model, self.n_columns)
        self._is_classifier = _is_classifier(self.model)
        self._check_outputs()

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_columns:
            raise ValueError(f"expected rows of {self.n_columns} columns, got an array of shape {X.shape}")
        if self._is_classifier:
            return np.asarray(self.model.predict_proba(X), dtype=np.float64)
        return np.asarray(self.model.predict(X), dtype=np.float64).reshape(-1, 1)

    @staticmethod
    def _refuse_pickles(artifact: bytes) -> None:
        if artifact.startswith(_PICKLE_PREFIXES) or artifact.startswith(_JOBLIB_COMPRESSED_PREFIXES):
            raise ArtifactError(
                "pickle and joblib files are refused: loading one runs code from the file. "
                "Save the model with skops.io.dump instead"
            )

    @staticmethod
    def _untrusted_types(artifact: bytes) -> list[str]:
        """Every type the file names that TRUSTED_TYPES does not, read from its schema."""
        try:
            with zipfile.ZipFile(io.BytesIO(artifact)) as archive:
                schema = json.loads(archive.read("schema.json"))
        except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError, RecursionError):
            raise ArtifactError("not a skops file: save the model with skops.io.dump") from None
        named: set[str] = set()
        pending: list[Any] = [schema]
        while pending:
            node = pending.pop()
            if isinstance(node, dict):
                module, name = node.get("__module__"), node.get("__class__")
                if module is not None or name is not None:
                    named.add(f"{module}.{name}"[:200])
                pending.extend(node.values())
            elif isinstance(node, list):
                pending.extend(node)
        return sorted(named.difference(TRUSTED_TYPES))

    def _check_outputs(self) -> None:
        """Predict one row of zeros: what the model gives must have the shape the contract says."""
        try:
            if self._is_classifier:
                out = np.asarray(self.model.predict_proba(np.zeros((1, self.n_columns))))
            else:
                out = np.asarray(self.model.predict(np.zeros((1, self.n_columns))))
        except Exception as exc:  # noqa: BLE001 - a model that cannot predict a row cannot serve
            raise ArtifactError(
                f"the model failed to predict a row of zeros ({type(exc).__name__})"
            ) from None
        if not self._is_classifier and out.size != 1:
            raise ArtifactError(
                f"the regression predicts {out.size} values per row; only single-output ones are supported"
            )


def _fitted_predictor(model: Any) -> Any:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if not hasattr(model, "predict") or not hasattr(model, "get_params"):
        raise ArtifactError(f"the skops file holds a {type(model).__name__}, not an estimator that predicts")
    try:
        check_is_fitted(model)
    except NotFittedError:
        raise ArtifactError(f"the {type(model).__name__} in the skops file is not fitted") from None
    if not hasattr(model, "n_features_in_"):
        raise ArtifactError(f"the {type(model).__name__} does not say how many columns it takes")
    # A forest saved with n_jobs would start a thread pool on every call; a web worker predicts
    # one row at a time, where that only adds overhead.
    estimators = [step for _, step in model.steps] if hasattr(model, "steps") else [model]
    for estimator in estimators:
        if hasattr(estimator, "get_params") and "n_jobs" in estimator.get_params(deep=False):
            estimator.set_params(n_jobs=1)
    return model


def _is_classifier(model: Any) -> bool:
    from sklearn.base import is_classifier

    if not is_classifier(model):
        return False
    if not hasattr(model, "predict_proba"):
        raise ArtifactError(f"the classifier {type(model).__name__} gives no class probabilities")
    return True
