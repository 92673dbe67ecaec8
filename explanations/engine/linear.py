"""Exact Linear SHAP for scikit-learn's linear models, alone or after per-column scalers."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .base import Explainer, Explanation, check_classes, check_rows, flip_to_negative_class
from .devices import library_versions
from .sklearn_support import LINEAR_MODELS, split_pipeline

__all__ = ["LinearExplainer"]


class LinearExplainer(Explainer):
    """Interventional Shapley values of a linear margin f(x) = w . s(x) + b, where s is the
    Pipeline's scalers (identity for a bare model): phi_j = w_j (s(x)_j - mean_bg s_j).

    Each scaler maps a column by x * a + c on its own, so f is linear in the raw columns with
    weights w_j a_j, and these are the exact values of that function with the columns
    independent of each other and distributed as the background; the base value is f at the
    background's mean. The explained output is the model's margin: a binary
    LogisticRegression's log-odds of class 1 (class 0 is its negation), a multiclass one's
    per-class decision_function (the softmax logits), a regression's prediction ("score").

    Nothing is shared between calls but read-only arrays: explain() takes no lock.
    """

    method = "linear"

    def __init__(self, model: Any, background: np.ndarray, output_space: str | None = None) -> None:
        scalers, final = split_pipeline(model)
        name = type(final).__name__
        if name not in LINEAR_MODELS or type(final).__module__.split(".")[0] != "sklearn":
            raise ValueError(f"Linear SHAP explains {', '.join(sorted(LINEAR_MODELS))}; got {name}")
        if not hasattr(final, "coef_"):
            raise ValueError(f"the {name} is not fitted")
        self._model = model
        self._scalers = scalers
        self.n_columns = int(getattr(model, "n_features_in_", np.shape(final.coef_)[-1]))
        weights = np.atleast_2d(np.asarray(final.coef_, dtype=np.float64))
        intercepts = np.atleast_1d(np.asarray(final.intercept_, dtype=np.float64))
        self._classifier = name == "LogisticRegression"
        if not self._classifier and weights.shape[0] != 1:
            raise ValueError(f"the {name} predicts {weights.shape[0]} targets; Linear SHAP explains one")
        # One row of weights: a regression, or a binary LogisticRegression's class 1.
        self._weights = weights
        self._intercepts = np.broadcast_to(intercepts, (weights.shape[0],)).copy()
        self._n_outputs = len(final.classes_) if self._classifier else 1

        natural = "log_odds" if self._classifier else "score"
        if output_space not in (None, natural):
            raise ValueError(
                f"Linear SHAP is exact only for the {name}'s margin ({natural!r}); got output_space {output_space!r}"
            )
        self.output_space = natural
        if background is None:
            raise ValueError("Linear SHAP needs background rows: the base value is the margin at their mean")
        reference = check_rows(background, self.n_columns)
        self._mean = self._scaled(reference).mean(axis=0)
        self._base = self._weights @ self._mean + self._intercepts  # one per output
        self.device = "cpu"
        self.params = {
            "algorithm": "linear shap",
            "feature_perturbation": "interventional",
            "model": name,
            "scalers": [type(scaler).__name__ for scaler in scalers],
            "background_rows": int(reference.shape[0]),
        }
        self.versions = {**library_versions(), "scikit-learn": _sklearn_version()}

    def explain(self, X: np.ndarray, classes: np.ndarray | None = None) -> Explanation:
        """Explain class 1 of a binary model, a multiclass model's predicted class, or the
        regression's score, unless `classes` says."""
        started = time.perf_counter()
        rows = check_rows(X, self.n_columns)
        n_rows = rows.shape[0]
        index = np.arange(n_rows)
        # The model's own margin: the explanation's additivity is then checked against the
        # estimator, not against the weights read from it.
        if self._classifier:
            margins = np.asarray(self._model.decision_function(rows), dtype=np.float64).reshape(n_rows, -1)
        else:
            margins = np.asarray(self._model.predict(rows), dtype=np.float64).reshape(n_rows, 1)
        single = self._weights.shape[0] == 1
        if single:
            default = np.full(n_rows, 1 if self._classifier else 0, dtype=np.int64)
            explained = check_classes(classes, default, self._n_outputs)
            output = np.zeros(n_rows, dtype=np.int64)
        else:
            explained = check_classes(classes, np.argmax(margins, axis=1), self._n_outputs)
            output = explained
        centred = self._scaled(rows) - self._mean
        values = centred * self._weights[output]
        base_values = self._base[output].copy()
        predictions = margins[index, output].copy()
        if single and self._classifier:
            flip_to_negative_class(values, base_values, predictions, explained == 0, self.output_space)
        return self._result(
            values=values,
            base_values=base_values,
            predictions=predictions,
            explained_class=explained,
            started=started,
        )

    def _scaled(self, rows: np.ndarray) -> np.ndarray:
        for scaler in self._scalers:
            rows = np.asarray(scaler.transform(rows), dtype=np.float64)
        return rows


def _sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)
