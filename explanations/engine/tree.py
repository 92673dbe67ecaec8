"""Exact TreeSHAP for XGBoost models, computed by XGBoost itself."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .base import Explainer, Explanation, check_classes, check_rows, flip_to_negative_class
from .devices import detect_devices, library_versions

if TYPE_CHECKING:
    import xgboost

__all__ = ["TreeExplainer"]

# Objectives whose margin is a log-odds (binary) or a softmax logit (multiclass).
_LOG_ODDS_OBJECTIVES = frozenset({"binary:logistic", "binary:logitraw", "multi:softprob", "multi:softmax"})


class TreeExplainer(Explainer):
    """Path-dependent TreeSHAP from `Booster.predict(pred_contribs=True)`.

    The values are exact Shapley values of the margin (log-odds for binary:logistic) under the
    tree-path-dependent value function, whose reference distribution is the training data as the
    trees' cover statistics recorded it. `background` is accepted so that every method is built
    the same way, but is not used: params says so with feature_perturbation.

    XGBoost's prediction is thread-safe for tree boosters, so explain() takes no lock.
    """

    method = "tree"

    def __init__(
        self,
        booster: xgboost.Booster,
        background: np.ndarray | None = None,
        device: Literal["auto", "cpu", "cuda"] = "auto",
    ) -> None:
        import xgboost as xgb

        if hasattr(booster, "get_booster"):  # the scikit-learn wrappers hold a Booster
            booster = booster.get_booster()
        if not isinstance(booster, xgb.Booster):
            raise TypeError(f"TreeExplainer needs an xgboost.Booster, got {type(booster)!r}")
        del background  # see the class docstring

        config = json.loads(booster.save_config())
        self.objective: str = config["learner"]["objective"]["name"]
        self._binary = self.objective.startswith("binary:")
        self.output_space = "log_odds" if self.objective in _LOG_ODDS_OBJECTIVES else "margin"
        self.n_columns = booster.num_features()

        self.device = self._resolve_device(device)
        if self.device != "cpu":
            # Copy: the caller's booster (the predictor cache's) must keep its own device.
            booster = booster.copy()
            booster.set_param({"device": "cuda"})
        self._booster = booster

        feature_types = booster.feature_types
        self._dmatrix_options: dict[str, Any] = {
            "feature_names": booster.feature_names,
            "feature_types": feature_types,
            "enable_categorical": bool(feature_types and "c" in feature_types),
        }
        self.params = {
            "algorithm": "xgboost pred_contribs",
            "feature_perturbation": "tree_path_dependent",
            "objective": self.objective,
            "num_boosted_rounds": booster.num_boosted_rounds(),
        }
        self.versions = library_versions()

    def explain(self, X: np.ndarray, classes: np.ndarray | None = None) -> Explanation:
        """Explain the rows of X; binary models explain class 1 (the margin) unless asked."""
        import xgboost as xgb

        started = time.perf_counter()
        rows = check_rows(X, self.n_columns)
        matrix = xgb.DMatrix(rows, **self._dmatrix_options)
        # strict_shape gives (n, n_groups, ...) for binary and multiclass alike.
        margins = self._booster.predict(matrix, output_margin=True, strict_shape=True)
        contribs = self._booster.predict(matrix, pred_contribs=True, strict_shape=True)
        n_rows, n_groups = margins.shape
        index = np.arange(n_rows)

        if n_groups == 1:
            # One output: the positive class's log-odds for binary objectives.
            n_outputs, default = (2, 1) if self._binary else (1, 0)
            chosen = check_classes(classes, np.full(n_rows, default, np.int64), n_outputs)
            group = np.zeros(n_rows, dtype=np.int64)
        else:
            chosen = check_classes(classes, np.argmax(margins, axis=1), n_groups)
            group = chosen

        selected = contribs[index, group].astype(np.float64)  # (n, n_columns + 1)
        values = np.ascontiguousarray(selected[:, :-1])
        base_values = selected[:, -1].copy()  # the bias column: E[margin] under the trees' cover
        predictions = margins[index, group].astype(np.float64)
        if n_groups == 1 and self._binary:
            flip_to_negative_class(values, base_values, predictions, chosen == 0, "log_odds")

        return self._result(
            values=values,
            base_values=base_values,
            predictions=predictions,
            explained_class=chosen,
            started=started,
        )

    @staticmethod
    def _resolve_device(device: str) -> str:
        if device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
        if device == "cpu":
            return "cpu"
        found = detect_devices()
        if found["xgboost_cuda"]:  # implies a visible GPU, so "device" names it
            return str(found["device"])
        if device == "cuda":
            raise ValueError(
                "device='cuda' was asked for, but this xgboost build has no CUDA support or no GPU is visible"
            )
        return "cpu"
