"""XGBoost boosters (UBJSON or JSON), predicted with `Booster.inplace_predict`, which reads the
numpy rows in place. xgboost is imported when a booster is loaded."""

from __future__ import annotations

import numpy as np

from .base import ArtifactError, Predictor


class XGBoostPredictor(Predictor):
    framework = "xgboost"

    def __init__(self, artifact: bytes):
        import xgboost as xgb

        booster = xgb.Booster()
        try:
            booster.load_model(bytearray(artifact))
        except xgb.core.XGBoostError as exc:
            raise ArtifactError(f"not a loadable XGBoost model: {exc}") from None
        # One thread per call: a web worker predicts one row at a time and parallelism only
        # adds overhead there; workers batch and get their speed from that.
        booster.set_param({"nthread": 1})
        self.model = booster
        self.n_columns = booster.num_features()

    def _predict(self, X: np.ndarray, predict_type: str) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_columns:
            raise ValueError(f"expected rows of {self.n_columns} columns, got an array of shape {X.shape}")
        return np.asarray(self.model.inplace_predict(X, predict_type=predict_type), dtype=np.float64)

    def margin(self, X: np.ndarray) -> np.ndarray:
        return self._predict(X, "margin")

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = self._predict(X, "value")
        if p.ndim == 1:
            return np.column_stack((1.0 - p, p))
        return p
