"""The Explanation value and the Explainer interface that every method implements.

Also the few batch helpers every method shares: row and class validation, and the lock that
serialises SHAP calls which touch process-global state.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import numpy as np
import numpy.typing as npt

__all__ = ["OUTPUT_SPACES", "Explainer", "Explanation", "ExplanationError"]

# "margin" is the raw output of a tree model whose objective is not a classification one;
# "score" is a regression model's output in its own units.
OUTPUT_SPACES: Final = frozenset({"log_odds", "probability", "margin", "score"})

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# shap's TensorFlow explainers patch TensorFlow's global gradient registry and its
# record_gradient hook for the length of a call, and its Kernel and Gradient explainers draw from
# numpy's global random state. Two such calls at once in one process would corrupt each other,
# so every engine call into those parts of shap holds this lock. Tree explanations never take it.
SHAP_GLOBAL_STATE_LOCK: Final = threading.RLock()


class ExplanationError(RuntimeError):
    """The library failed to explain this model or batch; the message says which and why."""


@dataclass(frozen=True, eq=False)
class Explanation:
    """Attributions for a batch of rows, with what is needed to reproduce and audit them.

    Arrays are converted to the documented dtypes and made read-only on construction, so an
    Explanation can be shared between threads and stored without defensive copies.
    """

    method: str
    params: dict[str, Any]
    output_space: str
    values: FloatArray
    base_values: FloatArray
    predictions: FloatArray
    explained_class: IntArray
    device: str
    versions: dict[str, str]
    compute_seconds: float

    def __post_init__(self) -> None:
        if self.output_space not in OUTPUT_SPACES:
            raise ValueError(f"output_space {self.output_space!r} is not one of {sorted(OUTPUT_SPACES)}")
        values = _frozen(self.values, np.float64)
        base_values = _frozen(self.base_values, np.float64)
        predictions = _frozen(self.predictions, np.float64)
        explained_class = _frozen(self.explained_class, np.int64)
        if values.ndim != 2:
            raise ValueError(f"values must be 2-D (n_rows, n_columns), got shape {values.shape}")
        n_rows = values.shape[0]
        for name, array in (
            ("base_values", base_values),
            ("predictions", predictions),
            ("explained_class", explained_class),
        ):
            if array.shape != (n_rows,):
                raise ValueError(f"{name} must have shape ({n_rows},), got {array.shape}")
        # frozen=True forbids plain assignment; these replace the inputs by their checked copies
        # (the dicts too: an explainer hands the same versions dict to every explanation).
        object.__setattr__(self, "params", dict(self.params))
        object.__setattr__(self, "versions", dict(self.versions))
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "base_values", base_values)
        object.__setattr__(self, "predictions", predictions)
        object.__setattr__(self, "explained_class", explained_class)

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])

    @property
    def additivity_error(self) -> FloatArray:
        """Per row, how far base value plus attributions are from the explained output."""
        return np.abs(self.base_values + self.values.sum(axis=1) - self.predictions)

    @property
    def meta(self) -> dict[str, Any]:
        """The JSON-serialisable provenance of this explanation (everything but the arrays)."""
        return {
            "method": self.method,
            "params": dict(self.params),
            "output_space": self.output_space,
            "device": self.device,
            "versions": dict(self.versions),
            "compute_seconds": self.compute_seconds,
        }


class Explainer(ABC):
    """One explanation method bound to one model and its background data.

    Building an explainer may be costly (graph tracing, background evaluation); callers build one
    per model version per process and reuse it. explain() never rebuilds it and is safe to call
    from several threads.
    """

    method: ClassVar[str]
    n_columns: int
    output_space: str
    device: str
    params: dict[str, Any]
    versions: dict[str, str]

    def _result(
        self, *, values: Any, base_values: Any, predictions: Any, explained_class: Any, started: float
    ) -> Explanation:
        """This explainer's Explanation of a batch whose computation began at `started`
        (time.perf_counter)."""
        return Explanation(
            method=self.method,
            params=dict(self.params),
            output_space=self.output_space,
            values=values,
            base_values=base_values,
            predictions=predictions,
            explained_class=explained_class,
            device=self.device,
            versions=self.versions,
            compute_seconds=time.perf_counter() - started,
        )

    @abstractmethod
    def explain(self, X: np.ndarray, classes: np.ndarray | None = None) -> Explanation:
        """Explain every row of X (n_rows, n_columns) in one library call.

        classes, if given, holds one class index per row (or a single index for all rows) to
        explain instead of the default one.
        """


def check_rows(X: np.ndarray, n_columns: int) -> FloatArray:
    """Return X as a C-contiguous float64 (n_rows, n_columns) array, or raise ValueError."""
    rows = np.ascontiguousarray(X, dtype=np.float64)
    if rows.ndim == 1 and rows.shape[0] == n_columns:
        rows = rows.reshape(1, n_columns)
    if rows.ndim != 2 or rows.shape[1] != n_columns:
        raise ValueError(f"expected rows of shape (n, {n_columns}), got {np.shape(X)}")
    if rows.shape[0] == 0:
        raise ValueError("nothing to explain: the batch has no rows")
    return rows


def check_classes(classes: np.ndarray | int | None, default: IntArray, n_outputs: int) -> IntArray:
    """Return the class index to explain for each row: `default` unless the caller chose."""
    if classes is None:
        return default.astype(np.int64, copy=False)
    chosen = np.asarray(classes)
    if not np.issubdtype(chosen.dtype, np.integer):
        raise ValueError(f"classes must be integer class indices, got dtype {chosen.dtype}")
    chosen = np.broadcast_to(chosen.astype(np.int64), default.shape).copy()
    bad = (chosen < 0) | (chosen >= n_outputs)
    if bad.any():
        raise ValueError(f"class index {int(chosen[bad][0])} out of range: the model has {n_outputs} classes")
    return chosen


def flip_to_negative_class(
    values: FloatArray,
    base_values: FloatArray,
    predictions: FloatArray,
    negative: npt.NDArray[np.bool_],
    output_space: str,
) -> None:
    """Turn the rows marked `negative` into explanations of class 0 of a single-output model.

    A single output explains class 1; class 0's output is 1 - p in probability space and -m in
    log-odds space. Shapley values are linear in the explained function, so the attributions
    are just negated. Works in place.
    """
    if not negative.any():
        return
    values[negative] = -values[negative]
    if output_space == "probability":
        base_values[negative] = 1.0 - base_values[negative]
        predictions[negative] = 1.0 - predictions[negative]
    else:
        base_values[negative] = -base_values[negative]
        predictions[negative] = -predictions[negative]


@contextmanager
def seeded_global_rng(seed: int) -> Iterator[None]:
    """Seed numpy's global random state for shap, then put the caller's state back.

    Holds SHAP_GLOBAL_STATE_LOCK throughout, so the seeded sequence cannot be interleaved with
    another thread's draws and the result depends on the seed alone.
    """
    with SHAP_GLOBAL_STATE_LOCK:
        saved = np.random.get_state()
        np.random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(saved)


def _frozen(array: Any, dtype: type[np.generic]) -> np.ndarray:
    out = np.array(array, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out
