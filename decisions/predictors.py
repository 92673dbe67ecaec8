"""Load a model version's artifact once per process and predict with it.

TensorFlow is imported only when a Keras model is loaded, so a web process that serves only
tree models never pays for it.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import io
import json
import math
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


@functools.cache
def _xgboost_library() -> ctypes.CDLL:
    """libxgboost, with the signatures (c_api.h) of the C functions the predictor calls."""
    from xgboost.libpath import find_lib_path

    lib = ctypes.CDLL(find_lib_path()[0])  # the library xgboost itself loaded: the same handle
    handle, out = ctypes.c_void_p, ctypes.POINTER
    lib.XGProxyDMatrixCreate.argtypes = [out(handle)]
    lib.XGDMatrixFree.argtypes = [handle]
    lib.XGBoosterPredictFromDense.argtypes = [
        handle,  # BoosterHandle
        ctypes.c_char_p,  # values: the array's __array_interface__, as JSON
        ctypes.c_char_p,  # config, as JSON
        handle,  # a proxy DMatrix
        out(out(ctypes.c_uint64)),  # out_shape
        out(ctypes.c_uint64),  # out_dim
        out(out(ctypes.c_float)),  # out_result: the booster's buffer, valid until its next call
    ]
    for function in (lib.XGProxyDMatrixCreate, lib.XGDMatrixFree, lib.XGBoosterPredictFromDense):
        function.restype = ctypes.c_int
    lib.XGBGetLastError.restype = ctypes.c_char_p
    return lib


def _xgboost_check(status: int) -> None:
    if status != 0:
        from xgboost.core import XGBoostError

        raise XGBoostError(_xgboost_library().XGBGetLastError().decode())


class _ProxyMatrix:
    """The proxy DMatrix that in-place prediction reads its input through; one per thread, as
    each call points it at that call's array."""

    def __init__(self) -> None:
        self.handle = ctypes.c_void_p()
        _xgboost_check(_xgboost_library().XGProxyDMatrixCreate(ctypes.byref(self.handle)))
        self._free = _xgboost_library().XGDMatrixFree  # kept: at exit the module's names may be gone
        # Where the prediction call writes its outputs, made once per thread, not per call.
        self.shape = ctypes.POINTER(ctypes.c_uint64)()
        self.dims = ctypes.c_uint64()
        self.result = ctypes.POINTER(ctypes.c_float)()
        self.outputs = (ctypes.byref(self.shape), ctypes.byref(self.dims), ctypes.byref(self.result))

    def __del__(self) -> None:
        self._free(self.handle)


_proxies = threading.local()


# The configuration `Booster.inplace_predict` sends by default, for values (0) or margins (1).
_PREDICT_CONFIG = {
    kind: json.dumps(
        {
            "type": kind,
            "training": False,
            "iteration_begin": 0,
            "iteration_end": 0,
            "missing": float("nan"),
            "strict_shape": False,
            "cache_id": 0,
        }
    ).encode()
    for kind in (0, 1)
}


class XGBoostPredictor(Predictor):
    """An XGBoost booster, called through xgboost's C function for in-place prediction.

    `Booster.inplace_predict` calls the same function (XGBoosterPredictFromDense) with the same
    configuration, but checks its input against pandas, Arrow, polars and cuDF types, builds its
    output through several Python layers, and lets the library make a new proxy DMatrix per
    call (which reads the cgroup's CPU quota from /sys every time). For one row of the credit
    model that was 300 us of CPU per prediction; this path takes about 60 (bench/RESULTS.md,
    ingest, stop 13), and every recorded decision predicts one row.
    tests/decisions/test_predictors.py checks the results are `inplace_predict`'s, bit for bit.
    """

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

    def _predict(self, X: np.ndarray, kind: int) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_columns:
            raise ValueError(f"expected rows of {self.n_columns} columns, got an array of shape {X.shape}")
        # The array's __array_interface__ (version 3), as the JSON the C function reads.
        values = b'{"data": [%d, true], "shape": [%d, %d], "typestr": "<f8", "version": 3}' % (
            X.__array_interface__["data"][0],
            *X.shape,
        )
        proxy = getattr(_proxies, "matrix", None)
        if proxy is None:
            proxy = _proxies.matrix = _ProxyMatrix()
        _xgboost_check(
            _xgboost_library().XGBoosterPredictFromDense(
                self.model.handle, values, _PREDICT_CONFIG[kind], proxy.handle, *proxy.outputs
            )
        )
        shape = proxy.shape
        out_shape = tuple(shape[i] for i in range(proxy.dims.value))
        # Copied out of the booster's buffer, which its next call on this thread overwrites.
        floats = ctypes.string_at(proxy.result, 4 * math.prod(out_shape)) if all(out_shape) else b""
        return np.frombuffer(floats, dtype=np.float32).astype(np.float64).reshape(out_shape)

    def margin(self, X: np.ndarray) -> np.ndarray:
        return self._predict(X, 1)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = self._predict(X, 0)
        if p.ndim == 1:
            both = np.empty((p.shape[0], 2))
            np.subtract(1.0, p, out=both[:, 0])
            both[:, 1] = p
            return both
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
