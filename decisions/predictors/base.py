"""What every predictor adapter offers, and what the registry does with its output: class
probabilities turned into the recorded outcome. Plain Python and numpy."""

from __future__ import annotations

import hashlib
import io
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
    """A loaded model of one framework. `n_columns` is the width of the rows it takes."""

    framework: str
    model: Any
    n_columns: int

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, n_classes)."""
        raise NotImplementedError


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
