"""What every predictor adapter offers, and what the registry does with its output: class
probabilities turned into the recorded outcome. Plain Python and numpy."""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np


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
    """A loaded model of one framework. `n_columns` is the width of the (flattened) rows it
    takes; `input_shape` is the shape one row is reshaped to for an image model, else None."""

    framework: str
    model: Any
    n_columns: int
    input_shape: tuple[int, ...] | None = None

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """The model's outputs for rows X (n, n_columns), as float64 of shape (n, n_outputs):
        class probabilities for a classifier (two columns for a binary one), the score in a
        single column for a regression."""
        raise NotImplementedError


_NOT_NPY = "background is not a .npy array of numbers (numpy.save of a float array, without pickled objects)"


def load_background(data: bytes) -> np.ndarray:
    """The 2-D float array in .npy bytes. Its header is read first and its shape must match the
    bytes that follow: numpy's loader allocates the whole array the header declares before it
    reads any data, so a 100-byte file declaring a huge shape would take gigabytes."""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, OSError, SyntaxError, TypeError):
        # numpy's own message suggests loading with allow_pickle: never, for an uploaded file.
        raise ArtifactError(_NOT_NPY) from None
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None:
        raise ArtifactError(_NOT_NPY)
    if len(shape) != 2:
        raise ArtifactError("background must be a 2-D array (rows x model columns)")
    count = math.prod(shape)
    if count * dtype.itemsize != len(data) - stream.tell():
        raise ArtifactError(
            f"background: the .npy header declares shape {tuple(shape)} of {dtype.name}, "
            f"which does not match the {len(data) - stream.tell():,} bytes of data that follow it"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=stream.tell())
    return array.reshape(shape, order="F" if fortran_order else "C").astype(np.float64)


def dump_background(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, dtype=np.float64), allow_pickle=False)
    return buffer.getvalue()


def favourable_label(output: dict) -> str | None:
    """The favourable class label: named for classifiers, implied by `favourable_when` for a
    regression score (its labels are [below the cut-off, at or above it])."""
    if output["type"] == "regression":
        labels = output["class_labels"]
        return labels[1] if output.get("favourable_when", "above") == "above" else labels[0]
    return output.get("favourable_label")


def decide(output: dict, proba: np.ndarray) -> list[Outcome]:
    """Turn the model's outputs into (score, outcome label, favourable) per the output semantics:
    a binary score against its threshold, a multiclass model's most likely class, a regression
    score against its cut-off (at or above the threshold is class_labels[1])."""
    labels = output["class_labels"]
    favourable = favourable_label(output)
    results = []
    if output["type"] == "regression":
        threshold = float(output["threshold"])
        for value in proba[:, 0]:
            label = labels[1] if value >= threshold else labels[0]
            results.append(Outcome(float(value), label, None if favourable is None else label == favourable))
    elif output["type"] == "binary":
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
