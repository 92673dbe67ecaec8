"""Load a model version's artifact once per process and predict with it.

TensorFlow is imported only when a Keras model is loaded, so a web process that serves only
tree models never pays for it.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from .schema import FeatureSchema


class ArtifactError(ValueError):
    """The stored artifact does not match its checksum or cannot be loaded."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Outcome:
    score: float
    outcome: str
    favourable: bool | None


class Predictor:
    framework: str
    model: Any
    n_columns: int

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, n_classes)."""
        raise NotImplementedError


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

    def margin(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.inplace_predict(X, predict_type="margin"), dtype=np.float64)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = np.asarray(self.model.inplace_predict(X), dtype=np.float64)
        if p.ndim == 1:
            return np.column_stack([1.0 - p, p])
        return p


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


def load_predictor(framework: str, artifact: bytes, *, input_shape: list[int] | None = None) -> Predictor:
    if framework == "xgboost":
        return XGBoostPredictor(artifact)
    if framework == "keras":
        return KerasPredictor(artifact, input_shape)
    raise ArtifactError(f"unsupported framework {framework!r}")


def load_background(data: bytes) -> np.ndarray:
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ArtifactError(f"background is not a .npy array: {exc}") from None
    if array.ndim != 2:
        raise ArtifactError("background must be a 2-D array (rows x model columns)")
    return array.astype(np.float64)


def dump_background(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, dtype=np.float64), allow_pickle=False)
    return buffer.getvalue()


def decide(output: dict, proba: np.ndarray) -> list[Outcome]:
    """Turn class probabilities into (score, outcome label, favourable) per the output semantics."""
    labels = output["class_labels"]
    favourable = output.get("favourable_label")
    results = []
    if output["type"] == "binary":
        threshold = float(output.get("threshold", 0.5))
        for p in proba[:, 1]:
            label = labels[1] if p >= threshold else labels[0]
            results.append(Outcome(float(p), label, None if favourable is None else label == favourable))
    else:
        best = proba.argmax(axis=1)
        for i, k in enumerate(best):
            label = labels[k]
            results.append(
                Outcome(float(proba[i, k]), label, None if favourable is None else label == favourable)
            )
    return results


# ---------------------------------------------------------------------------- process cache
_cache: dict[tuple[int, str], Predictor] = {}
_cache_lock = threading.Lock()


def predictor_for(version: Any) -> Predictor:
    """The cached predictor of a ModelVersion; the artifact's sha256 is checked when loading."""
    key = (version.pk, version.artifact_sha256)
    predictor = _cache.get(key)
    if predictor is None:
        with _cache_lock:
            predictor = _cache.get(key)
            if predictor is None:
                artifact = bytes(version.artifact)
                if sha256(artifact) != version.artifact_sha256:
                    raise ArtifactError(
                        f"artifact of {version} does not match its recorded sha256; refusing to load"
                    )
                predictor = load_predictor(
                    version.framework,
                    artifact,
                    input_shape=(version.training or {}).get("input_shape"),
                )
                _cache[key] = predictor
    return predictor


_schemas: dict[tuple[int, Any], FeatureSchema] = {}


def schema_of(version: Any) -> FeatureSchema:
    """The parsed feature schema of a ModelVersion, once per process.

    A registered version's schema never changes (a new schema is a new version), so the cache
    needs no invalidation; created_at in the key guards against a reused primary key.
    """
    key = (version.pk, version.created_at)
    schema = _schemas.get(key)
    if schema is None:
        schema = _schemas[key] = FeatureSchema.from_dict(version.feature_schema)
    return schema
