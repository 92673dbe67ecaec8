"""Keras 3 models (`.keras` files). TensorFlow is imported only when one is loaded, so a web
process that serves only tree models never pays for it."""

from __future__ import annotations

import os
import tempfile
import threading

import numpy as np

from .base import ArtifactError, Predictor


class KerasPredictor(Predictor):
    framework = "keras"

    def __init__(self, artifact: bytes, input_shape: list[int] | None):
        import keras

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.keras")
            with open(path, "wb") as fh:
                fh.write(artifact)
            try:
                self.model = keras.saving.load_model(path, compile=False)
            except Exception as exc:  # noqa: BLE001 - keras raises many types for bad files
                raise ArtifactError(f"not a loadable Keras model: {exc}") from None
        self.input_shape = tuple(input_shape or self.model.input_shape[1:])
        self.n_columns = int(np.prod(self.input_shape))
        self._lock = threading.Lock()

    def reshape(self, X: np.ndarray) -> np.ndarray:
        return X.reshape((X.shape[0], *self.input_shape)).astype(np.float32)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        with self._lock:
            out = self.model(self.reshape(X), training=False)
        return np.asarray(out, dtype=np.float64)
