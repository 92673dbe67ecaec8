"""Keras 3 models (`.keras` files). TensorFlow is imported only when one is loaded, so a web
process that serves only tree models never pays for it.

A `.keras` file is a zip of the model's configuration and weights. A Lambda layer stores Python
code in it, which loading would run: such files are refused before Keras reads them, and Keras
loads in safe mode besides.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import threading
import zipfile
from typing import Any

import numpy as np

from .base import ArtifactError, Predictor

LAMBDA_REFUSED = "Keras file with a Lambda layer (arbitrary code) refused"


class KerasPredictor(Predictor):
    framework = "keras"

    def __init__(self, artifact: bytes, input_shape: list[int] | None):
        import keras

        _refuse_code(_config_of(artifact))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.keras")
            with open(path, "wb") as fh:
                fh.write(artifact)
            try:
                self.model = keras.saving.load_model(path, compile=False, safe_mode=True)
            except Exception as exc:  # noqa: BLE001 - keras raises many types for bad files
                if "Lambda" in str(exc):
                    raise ArtifactError(LAMBDA_REFUSED) from None
                message = str(exc).replace(path, "the file").replace(tmp, "")
                raise ArtifactError(f"not a loadable Keras model: {message[:300]}") from None
        self.input_shape = _input_shape(self.model, input_shape)
        self.n_columns = int(np.prod(self.input_shape))
        self._lock = threading.Lock()

    def reshape(self, X: np.ndarray) -> np.ndarray:
        """Flat rows (n, h*w*c), row-major in (h, w, c) order, as the model's input batch."""
        return X.reshape((X.shape[0], *self.input_shape)).astype(np.float32)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        with self._lock:
            out = self.model(self.reshape(X), training=False)
        out = np.asarray(out, dtype=np.float64)
        return out.reshape(out.shape[0], -1)


def _config_of(artifact: bytes) -> Any:
    try:
        with zipfile.ZipFile(io.BytesIO(artifact)) as archive:
            return json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ArtifactError("not a Keras model file (.keras): no readable model configuration") from None


def _refuse_code(config: Any) -> None:
    """Refuse a configuration holding a Lambda layer anywhere, nested models included."""
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("class_name") == "Lambda":
                raise ArtifactError(LAMBDA_REFUSED)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _input_shape(model: Any, declared: list[int] | None) -> tuple[int, ...]:
    """One row's shape: the model's own, which the declared input_shape (e.g. [h, w, 3]) must
    match, up to a trailing channel of 1 ([8, 8] for a model taking (8, 8, 1)); ArtifactError
    if they disagree or the shape is not fixed. A channels-first model is refused here: our rows
    are (h, w, c) row-major and reshaping them to (c, h, w) would scramble them."""
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 1:
        raise ArtifactError("only Keras models with a single input are supported")
    own = tuple(None if dim is None else int(dim) for dim in inputs[0].shape[1:])
    if declared is None:
        if None in own:
            raise ArtifactError(f"the model's input shape {own} has free dimensions; declare input_shape")
        return own  # type: ignore[return-value]
    shape = tuple(int(dim) for dim in declared)
    a, b = _without_single_channel(own), _without_single_channel(shape)
    if len(a) != len(b) or any(o is not None and o != d for o, d in zip(a, b, strict=True)):
        raise ArtifactError(f"declared input_shape {list(shape)} does not match the model's input {own}")
    # The model's shape, its free dimensions taken from the declared one.
    return tuple(d if o is None else o for o, d in zip(a, b, strict=True)) + own[len(a) :]


def _without_single_channel(shape: tuple) -> tuple:
    return shape[:-1] if len(shape) == 3 and shape[-1] == 1 else shape
