"""XGBoost boosters (UBJSON or JSON, every tree checked before XGBoost reads it:
tree_structure.py), predicted through xgboost's C function for in-place prediction.

`Booster.inplace_predict` calls the same function (XGBoosterPredictFromDense) with the same
configuration, but checks its input against pandas, Arrow, polars and cuDF types, builds its
output through several Python layers, and has the library make a new proxy DMatrix per call,
which reads the cgroup's CPU quota from /sys every time. Every recorded decision predicts one
row, and under gunicorn that overhead is a fifth or more of a decision's CPU (the A/B pairs
are in bench/RESULTS.md). tests/decisions/test_predictors.py holds the results equal to
`inplace_predict`'s, bit for bit.
"""

from __future__ import annotations

import ctypes
import functools
import json
import math
import threading

import numpy as np

from .base import ArtifactError, Predictor
from .tree_structure import xgboost_checked


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
    """An XGBoost booster, called through xgboost's C function for in-place prediction."""

    framework = "xgboost"

    def __init__(self, artifact: bytes):
        import xgboost as xgb

        # XGBoost trusts the trees it loads: each is checked first, and XGBoost reads the
        # document that was checked (tree_structure.py).
        checked = xgboost_checked(artifact)
        booster = xgb.Booster()
        try:
            booster.load_model(bytearray(checked))
        except xgb.core.XGBoostError as exc:
            # XGBoost's message carries its C++ stack and source paths: its first line is the news.
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ArtifactError(f"not a loadable XGBoost model: {first[:200]}") from None
        # One thread per call: a web worker predicts one row at a time and parallelism only
        # adds overhead there; workers batch and get their speed from that.
        booster.set_param({"nthread": 1})
        self.model = booster
        self.n_columns = booster.num_features()
        objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
        # A regression's prediction is its score, in one column; a binary classifier's is the
        # positive class's probability, made into both classes' columns.
        self.single_column_is_score = not objective.startswith(("binary:", "multi:"))

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
        if p.ndim == 1 and self.single_column_is_score:
            return p.reshape(-1, 1)
        if p.ndim == 1:
            both = np.empty((p.shape[0], 2))
            np.subtract(1.0, p, out=both[:, 0])
            both[:, 1] = p
            return both
        return p
