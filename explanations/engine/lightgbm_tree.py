"""Exact TreeSHAP for LightGBM models, computed by LightGBM itself."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from .base import Explainer, Explanation, ExplanationError, check_classes, check_rows, flip_to_negative_class
from .devices import library_versions

if TYPE_CHECKING:
    import lightgbm

__all__ = ["LightGBMTreeExplainer"]

# Objectives whose raw score is a log-odds per output: one for two classes (class 1), or one per
# class (softmax logits for "multiclass", one-vs-rest log-odds for "multiclassova").
_BINARY_OBJECTIVES: Final = frozenset({"binary", "cross_entropy"})
_MULTICLASS_OBJECTIVES: Final = frozenset({"multiclass", "multiclassova"})
# Regression objectives whose raw score is the prediction itself.
_IDENTITY_OBJECTIVES: Final = frozenset({"regression", "regression_l1", "huber", "fair", "quantile", "mape"})


class LightGBMTreeExplainer(Explainer):
    """Path-dependent TreeSHAP from `Booster.predict(pred_contrib=True)`.

    Exact Shapley values of the raw score under the tree-path-dependent value function (the
    reference is the training data as the trees' counts recorded it; `background` is not
    used). The raw score is a log-odds for binary, cross-entropy and one-vs-rest objectives
    (multiplied by the objective's `sigmoid` where it is not 1, so that it is one), the softmax
    logits for multiclass ("log_odds" too, as for XGBoost), a regression's prediction for
    objectives without a link ("score"), and for the others (Poisson, Gamma, Tweedie, ranking)
    the raw score before the link ("margin").

    LightGBM's prediction is thread-safe, so explain() takes no lock. num_threads is LightGBM's
    per call (0: OpenMP's default); the explanation does not depend on it.
    """

    method = "tree"

    def __init__(
        self,
        booster: lightgbm.Booster,
        background: np.ndarray | None = None,
        num_threads: int = 0,
        device: str = "auto",
    ) -> None:
        import lightgbm as lgb

        if hasattr(booster, "booster_"):  # the scikit-learn wrappers hold a Booster
            booster = booster.booster_
        if not isinstance(booster, lgb.Booster):
            raise TypeError(f"LightGBMTreeExplainer needs a lightgbm.Booster, got {type(booster)!r}")
        if device not in ("auto", "cpu"):
            raise ValueError(f"LightGBM's TreeSHAP runs on the CPU; got device={device!r}")
        del background  # see the class docstring
        self._booster = booster
        self._num_threads = int(num_threads)
        self.n_columns = booster.num_feature()
        self._n_groups = booster.num_model_per_iteration()
        self.objective, options = _objective(booster)
        # LightGBM's probability is sigmoid(s * raw): the log-odds is s * raw.
        self._scale = (
            float(options.get("sigmoid", 1.0)) if self.objective in ("binary", "multiclassova") else 1.0
        )
        self._binary = self.objective in _BINARY_OBJECTIVES and self._n_groups == 1
        if self.objective in _BINARY_OBJECTIVES | _MULTICLASS_OBJECTIVES:
            self.output_space = "log_odds"
        elif self.objective in _IDENTITY_OBJECTIVES and "sqrt" not in options:
            self.output_space = "score"
        else:
            self.output_space = "margin"
        self.device = "cpu"
        self.params = {
            "algorithm": "lightgbm pred_contrib",
            "feature_perturbation": "tree_path_dependent",
            "objective": self.objective,
            "num_trees": booster.num_trees(),
        }
        if self._scale != 1.0:
            self.params["log_odds_scale"] = self._scale
        self.versions = {**library_versions(), "lightgbm": lgb.__version__}

    def explain(self, X: np.ndarray, classes: np.ndarray | None = None) -> Explanation:
        """Explain the rows of X; binary models explain class 1 unless asked, multiclass
        models the predicted class."""
        started = time.perf_counter()
        rows = check_rows(X, self.n_columns)
        n_rows = rows.shape[0]
        index = np.arange(n_rows)
        try:
            margins = self._booster.predict(rows, raw_score=True, num_threads=self._num_threads)
            contribs = self._booster.predict(rows, pred_contrib=True, num_threads=self._num_threads)
        except Exception as exc:  # LightGBMError: e.g. linear trees have no contributions
            raise ExplanationError(f"LightGBM TreeSHAP failed ({type(exc).__name__}: {exc})") from exc
        margins = np.asarray(margins, dtype=np.float64).reshape(n_rows, self._n_groups) * self._scale
        # Multiclass contributions come as one block of (columns + bias) per class.
        contribs = np.asarray(contribs, dtype=np.float64).reshape(n_rows, self._n_groups, self.n_columns + 1)

        if self._n_groups == 1:
            n_outputs, default = (2, 1) if self._binary else (1, 0)
            chosen = check_classes(classes, np.full(n_rows, default, np.int64), n_outputs)
            group = np.zeros(n_rows, dtype=np.int64)
        else:
            chosen = check_classes(classes, np.argmax(margins, axis=1), self._n_groups)
            group = chosen

        selected = contribs[index, group] * self._scale  # (n, n_columns + 1)
        values = np.ascontiguousarray(selected[:, :-1])
        base_values = selected[:, -1].copy()  # the expected raw score under the trees' counts
        predictions = margins[index, group].copy()
        if self._binary:
            flip_to_negative_class(values, base_values, predictions, chosen == 0, "log_odds")
        return self._result(
            values=values,
            base_values=base_values,
            predictions=predictions,
            explained_class=chosen,
            started=started,
        )


def _objective(booster: Any) -> tuple[str, dict[str, str]]:
    """The objective's name and options ("binary sigmoid:1" -> binary, {"sigmoid": "1"}), from
    the model text's header (one iteration's text: the header is all that is read)."""
    for line in booster.model_to_string(num_iteration=1).splitlines():
        if line.startswith("objective=") and line.partition("=")[2].split():
            name, *rest = line.partition("=")[2].split()
            return name, {key: value for key, _, value in (token.partition(":") for token in rest)}
        if line.startswith("Tree="):
            break
    return "custom", {}
