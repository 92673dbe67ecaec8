"""Exact TreeSHAP for scikit-learn's tree models, through shap's TreeExplainer."""

from __future__ import annotations

import time
from typing import Any, Final

import numpy as np

from .base import (
    Explainer,
    Explanation,
    ExplanationError,
    check_classes,
    check_rows,
    flip_to_negative_class,
)
from .devices import library_versions
from .sklearn_support import split_pipeline, tree_problem

__all__ = ["SklearnTreeExplainer"]

# base + sum(values) must give the model's own output to this much (relative to the output's
# size); shap computes in float64 from the same trees, so a larger gap means it read them wrong.
ADDITIVITY_TOLERANCE: Final = 1e-6
# HistGradientBoostingRegressor losses whose raw output is the log of the prediction.
_LOG_LINK_LOSSES: Final = frozenset({"poisson", "gamma"})


class SklearnTreeExplainer(Explainer):
    """Path-dependent TreeSHAP of a scikit-learn tree model's raw output, with shap.

    The raw output, and so the output space, depends on the model: a forest's or a decision
    tree's classifier averages its trees' class probabilities ("probability", one output per
    class); a (Hist)GradientBoosting classifier adds up log-odds ("log_odds": one output for two
    classes, explaining class 1, or one logit per class); a regression's raw output is its
    prediction ("score"), except for a HistGradientBoostingRegressor with a Poisson or Gamma
    loss, whose raw output is the log of the prediction ("margin"). The reference distribution
    is the training data as the trees' node counts recorded it; `background` is not used.

    A Pipeline of per-column scalers before the trees is explained on its scaled columns, which
    are the raw columns one to one. Every call checks the values add up to the model's own output.
    shap's tree explanation keeps no state between calls, so explain() takes no lock.
    """

    method = "tree"

    def __init__(self, model: Any, background: np.ndarray | None = None, device: str = "auto") -> None:
        import shap

        if device not in ("auto", "cpu"):
            raise ValueError(
                f"shap's TreeSHAP for scikit-learn models runs on the CPU; got device={device!r}"
            )
        del background  # see the class docstring
        self._scalers, estimator = split_pipeline(model)
        problem = tree_problem(estimator)
        if problem is not None:
            raise ValueError(f"TreeSHAP cannot explain this model: {problem}")
        self._model = model
        self._estimator = estimator
        name = type(estimator).__name__
        self.n_columns = int(model.n_features_in_)
        self._classes = len(estimator.classes_) if name.endswith("Classifier") else 0
        self._boosted = "GradientBoosting" in name
        self._log_link = getattr(estimator, "loss", None) in _LOG_LINK_LOSSES and name.startswith("Hist")
        if self._classes:
            self.output_space = "log_odds" if self._boosted else "probability"
        else:
            self.output_space = "margin" if self._log_link else "score"
        self._shap = shap.TreeExplainer(
            estimator, feature_perturbation="tree_path_dependent", model_output="raw"
        )
        # shap sets expected_value on its first call (before it, the value may be wrong): one
        # call here, and explain() only reads it, so concurrent calls share no changing state.
        self._shap.shap_values(np.zeros((1, self.n_columns)), check_additivity=False)
        self._expected = np.asarray(self._shap.expected_value, dtype=np.float64).reshape(-1)
        self.device = "cpu"
        self.params = {
            "algorithm": "shap TreeExplainer",
            "feature_perturbation": "tree_path_dependent",
            "model_output": "raw",
            "model": name,
            "scalers": [type(scaler).__name__ for scaler in self._scalers],
        }
        self.versions = {**library_versions(), "scikit-learn": _sklearn_version()}

    def explain(self, X: np.ndarray, classes: np.ndarray | None = None) -> Explanation:
        """Explain class 1 of a two-class model, the predicted class of a multiclass one, or
        the regression's output, unless `classes` says."""
        started = time.perf_counter()
        rows = check_rows(X, self.n_columns)
        n_rows = rows.shape[0]
        index = np.arange(n_rows)
        outputs = self._raw_outputs(rows)  # (n, outputs): the model's own, not shap's
        try:
            scaled = self._scaled(rows)
            phis = np.asarray(self._shap.shap_values(scaled, check_additivity=False), dtype=np.float64)
        except Exception as exc:
            raise ExplanationError(f"TreeSHAP failed ({type(exc).__name__}: {exc})") from exc
        phis = phis.reshape(n_rows, self.n_columns, -1)

        single = phis.shape[2] == 1
        if single:
            n_outputs, default = (2, 1) if self._classes else (1, 0)
            explained = check_classes(classes, np.full(n_rows, default, np.int64), n_outputs)
            output = np.zeros(n_rows, dtype=np.int64)
        else:
            default = np.full(n_rows, 1, np.int64) if self._classes == 2 else np.argmax(outputs, axis=1)
            explained = check_classes(classes, default, phis.shape[2])
            output = explained
        values = np.ascontiguousarray(phis[index, :, output])
        base_values = self._expected[output].copy()
        predictions = outputs[index, output].copy()
        self._check_additivity(values, base_values, predictions)
        if single and self._classes:
            flip_to_negative_class(values, base_values, predictions, explained == 0, self.output_space)
        return self._result(
            values=values,
            base_values=base_values,
            predictions=predictions,
            explained_class=explained,
            started=started,
        )

    def _raw_outputs(self, rows: np.ndarray) -> np.ndarray:
        """What the model's trees add up to, from the estimator: probabilities, log-odds or
        the regression's (log-)prediction."""
        n_rows = rows.shape[0]
        if self._classes and self._boosted:
            raw = self._model.decision_function(rows)
        elif self._classes:
            raw = self._model.predict_proba(rows)
        else:
            raw = self._model.predict(rows)
            if self._log_link:
                raw = np.log(raw)
        return np.asarray(raw, dtype=np.float64).reshape(n_rows, -1)

    def _scaled(self, rows: np.ndarray) -> np.ndarray:
        for scaler in self._scalers:
            rows = np.asarray(scaler.transform(rows), dtype=np.float64)
        return rows

    @staticmethod
    def _check_additivity(values: np.ndarray, base_values: np.ndarray, predictions: np.ndarray) -> None:
        gap = np.abs(base_values + values.sum(axis=1) - predictions)
        allowed = ADDITIVITY_TOLERANCE * np.maximum(1.0, np.abs(predictions))
        if (gap > allowed).any():
            worst = int(np.argmax(gap - allowed))
            raise ExplanationError(
                f"TreeSHAP values do not add up to the model's output: row {worst} is off by {gap[worst]:.3g}"
            )


def _sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)
