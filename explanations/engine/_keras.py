"""Keras plumbing shared by the deep and gradient explainers.

TensorFlow is imported inside these functions only: importing this module stays cheap.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

from .base import SHAP_GLOBAL_STATE_LOCK, Explanation, IntArray, check_classes, flip_to_negative_class
from .devices import detect_devices

Float32Array = npt.NDArray[np.float32]


def check_model(model: Any, input_shape: tuple[int, ...] | None) -> tuple[int, ...]:
    """Check the model is a single-input, single-output TensorFlow Keras model; return the
    shape of one input row (without the batch axis)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"shap explains Keras models on the TensorFlow backend only; "
            f"this process runs Keras on {keras.backend.backend()!r}"
        )
    if not isinstance(model, keras.Model):
        raise TypeError(f"expected a keras.Model, got {type(model)!r}")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError("only models with one input and one output can be explained")
    if input_shape is None:
        shape = tuple(model.inputs[0].shape[1:])
        if any(dim is None for dim in shape):
            raise ValueError(f"the model's input shape {shape} has free dimensions; pass input_shape")
        input_shape = tuple(int(dim) for dim in shape)
    return tuple(int(dim) for dim in input_shape)


def to_model_input(rows: np.ndarray, input_shape: tuple[int, ...]) -> Float32Array:
    """Reshape flattened rows (n, prod(input_shape)), or already shaped ones, for the model."""
    array = np.asarray(rows, dtype=np.float32)
    n_columns = int(np.prod(input_shape))
    if array.ndim < 2 or int(np.prod(array.shape[1:])) != n_columns:
        raise ValueError(
            f"expected rows of {n_columns} values (input shape {input_shape}), "
            f"got an array of shape {array.shape}"
        )
    return np.ascontiguousarray(array.reshape((array.shape[0], *input_shape)))


def model_outputs(model: Any, x: Float32Array) -> Float32Array:
    """The model's outputs as a float32 (n, n_outputs) array, in inference mode."""
    out = np.asarray(model(x, training=False), dtype=np.float32)
    return out.reshape(out.shape[0], -1)


def choose_outputs(
    outputs: Float32Array, classes: np.ndarray | None
) -> tuple[IntArray, IntArray, npt.NDArray[np.bool_]]:
    """Return (output index to explain, class reported, rows to flip) for each row.

    A multi-output model explains its predicted class unless the caller chose. A single-output
    (sigmoid) model has one output, P(class 1): it explains class 1 by default, and class 0 by
    flipping the explanation of that output.
    """
    n_rows, n_outputs = outputs.shape
    if n_outputs == 1:
        explained = check_classes(classes, np.ones(n_rows, dtype=np.int64), 2)
        return np.zeros(n_rows, dtype=np.int64), explained, explained == 0
    explained = check_classes(classes, np.argmax(outputs, axis=1), n_outputs)
    return explained, explained, np.zeros(n_rows, dtype=bool)


def tensorflow_device() -> str:
    return str(detect_devices(include_tensorflow=True)["device"])


@contextmanager
def tensorflow_shap_call() -> Iterator[None]:
    """Run a shap TensorFlow call safely: one at a time, quietly, and never leaving TF poisoned.

    shap's Deep explainer swaps TensorFlow's `record_gradient` hook for its own and puts the
    original back only when the call succeeds. After a failure every later gradient in the
    process is recorded as "shap_<op>", which the registry no longer holds, so unrelated
    Gradient explanations fail with LookupError. This restores the hook whatever happens.
    """
    from shap.explainers._deep import deep_tf
    from tensorflow.python.eager import backprop, execute

    with SHAP_GLOBAL_STATE_LOCK, warnings.catch_warnings():
        # shap calls the model with a one-element list where Keras 3 expects a tensor: harmless,
        # but Keras warns about it on every call.
        warnings.filterwarnings(
            "ignore", message=r"The structure of `inputs` doesn't match", category=UserWarning
        )
        saved = execute.record_gradient
        if saved is deep_tf.custom_record_gradient:  # poisoned before we got here
            saved = getattr(backprop, "_record_gradient", None) or backprop.record_gradient
        try:
            yield
        finally:
            execute.record_gradient = saved


def explanation(
    *,
    method: str,
    params: dict[str, Any],
    values: np.ndarray,
    base_values: np.ndarray,
    predictions: np.ndarray,
    explained: IntArray,
    flip: npt.NDArray[np.bool_],
    device: str,
    versions: dict[str, str],
    compute_seconds: float,
) -> Explanation:
    """Assemble a probability-space Explanation, flipping single-output rows to class 0."""
    values = np.array(values, dtype=np.float64)
    base_values = np.array(base_values, dtype=np.float64)
    predictions = np.array(predictions, dtype=np.float64)
    flip_to_negative_class(values, base_values, predictions, flip, "probability")
    return Explanation(
        method=method,
        params=params,
        output_space="probability",
        values=values,
        base_values=base_values,
        predictions=predictions,
        explained_class=explained,
        device=device,
        versions=versions,
        compute_seconds=compute_seconds,
    )
