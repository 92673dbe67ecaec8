"""Exact Shapley values of any model given as a prediction function, by enumerating every
coalition of columns; and the coalition machinery the permutation method shares.

The value of a coalition S for row x is the interventional v(S) = mean over the background rows
b of f(x_S, b_notS). Every Shapley estimate used here is linear in those values,
phi = V @ weights, with V (rows, coalitions) and weights (coalitions, columns): exact
enumeration's closed-form weights, or the permutation method's averaged marginal contributions.
v(empty) = mean f(background) and v(all) = f(x) are known without enumeration, so only proper
coalitions are evaluated and additivity holds by construction, up to float rounding.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Final

import numpy as np

from .base import OUTPUT_SPACES, Explainer, Explanation, ExplanationError, check_classes, check_rows
from .devices import library_versions

__all__ = ["DEFAULT_BATCH_ROWS", "CoalitionExplainer", "ExactExplainer"]

# Model rows per predict_fn call: 65,536 rows of 30 float64 columns are 16 MB.
DEFAULT_BATCH_ROWS: Final = 1 << 16


class CoalitionExplainer(Explainer):
    """Attributions that are a fixed linear combination of coalition values.

    A subclass sets `_masks` (coalitions, n_columns) of proper coalitions (neither empty nor
    full) and `_weights` (2 + coalitions, n_columns): row 0 weighs v(empty), row 1 v(all), then
    one row per mask. Every explained row uses the same coalitions, so a row's numbers never
    depend on the other rows of its batch (up to the model's own batch rounding).
    """

    _masks: np.ndarray
    _weights: np.ndarray

    def __init__(
        self,
        predict_fn: Callable[[np.ndarray], np.ndarray],
        background: np.ndarray,
        output_space: str = "probability",
        batch_rows: int = DEFAULT_BATCH_ROWS,
        device: str = "cpu",
    ) -> None:
        if output_space not in OUTPUT_SPACES:
            raise ValueError(f"output_space {output_space!r} is not one of {sorted(OUTPUT_SPACES)}")
        reference = np.ascontiguousarray(background, dtype=np.float64)
        if reference.ndim != 2 or reference.shape[0] == 0:
            raise ValueError(f"background must be a non-empty 2-D array, got {reference.shape}")
        if int(batch_rows) < 1:
            raise ValueError("batch_rows must be positive")
        self._predict_fn = predict_fn
        self._background = reference
        self._batch_rows = int(batch_rows)
        self.n_columns = int(reference.shape[1])
        self.output_space = output_space
        self.device = device
        self.n_outputs = 0  # unknown until the background is predicted
        outputs = self._predict(reference)
        self.n_outputs = int(outputs.shape[1])
        self._base = outputs.mean(axis=0)  # v(empty) per output column
        self.params: dict[str, Any] = {"background_rows": int(reference.shape[0])}
        self.versions = library_versions()

    def explain(self, X: np.ndarray, classes: np.ndarray | None = None) -> Explanation:
        """Explain the most likely output column of each row (column 0 of a single output)
        unless `classes` says."""
        started = time.perf_counter()
        rows = check_rows(X, self.n_columns)
        n_rows = rows.shape[0]
        outputs = self._predict(rows)
        default = np.argmax(outputs, axis=1) if self.n_outputs > 1 else np.zeros(n_rows, dtype=np.int64)
        explained = check_classes(classes, default, self.n_outputs)
        index = np.arange(n_rows)
        predictions = outputs[index, explained]
        base_values = self._base[explained]
        values = np.empty((n_rows, 2 + self._masks.shape[0]))
        values[:, 0] = base_values
        values[:, 1] = predictions
        values[:, 2:] = self._coalition_values(rows, explained)
        return Explanation(
            method=self.method,
            params=dict(self.params),
            output_space=self.output_space,
            # Row by row: a matrix product over the batch may round differently by batch size.
            values=np.stack([row @ self._weights for row in values]),
            base_values=base_values,
            predictions=predictions,
            explained_class=explained,
            device=self.device,
            versions=self.versions,
            compute_seconds=time.perf_counter() - started,
        )

    def _coalition_values(self, rows: np.ndarray, explained: np.ndarray) -> np.ndarray:
        """v(S) for every row and mask: (n_rows, coalitions), in calls of about batch_rows
        model rows (several explained rows per call when their coalitions fit)."""
        n_rows, n_masks = rows.shape[0], self._masks.shape[0]
        n_background = self._background.shape[0]
        found = np.empty((n_rows, n_masks))
        if n_masks == 0:
            return found
        per_row = n_masks * n_background
        rows_per_call = max(1, self._batch_rows // per_row)
        masks_per_call = n_masks if per_row <= self._batch_rows else max(1, self._batch_rows // n_background)
        for first in range(0, n_rows, rows_per_call):
            x = rows[first : first + rows_per_call]
            chosen = explained[first : first + rows_per_call]
            for start in range(0, n_masks, masks_per_call):
                masks = self._masks[start : start + masks_per_call]
                # (rows, masks, background, columns): x where the mask holds, else the background.
                mixed = np.where(masks[None, :, None, :], x[:, None, None, :], self._background[None, None])
                out = self._predict(mixed.reshape(-1, self.n_columns))
                means = out.reshape(x.shape[0], masks.shape[0], n_background, -1).mean(axis=2)
                found[first : first + x.shape[0], start : start + masks.shape[0]] = means[
                    np.arange(x.shape[0]), :, chosen
                ]
        return found

    def _predict(self, X: np.ndarray) -> np.ndarray:
        try:
            out = np.asarray(self._predict_fn(X), dtype=np.float64)
        except Exception as exc:
            raise ExplanationError(
                f"the model failed on {X.shape[0]} rows ({type(exc).__name__}: {exc})"
            ) from exc
        if out.shape[0] != X.shape[0] or out.ndim not in (1, 2):
            raise ExplanationError(f"the model returned shape {out.shape} for {X.shape[0]} rows")
        out = out.reshape(X.shape[0], -1)
        if self.n_outputs and out.shape[1] != self.n_outputs:
            raise ExplanationError(f"the model returned {out.shape[1]} outputs, expected {self.n_outputs}")
        return out


class ExactExplainer(CoalitionExplainer):
    """Exact Shapley values by enumerating all 2**M coalitions of the M columns (M <= max_columns).

    Cost per explained row: 2**M - 2 coalitions x background rows model evaluations (4,094 x
    100 = 409,400 at M = 12 with 100 background rows), in predict_fn calls of about
    `batch_rows` rows. Above max_columns use the permutation method.
    """

    method = "exact"

    def __init__(
        self,
        predict_fn: Callable[[np.ndarray], np.ndarray],
        background: np.ndarray,
        output_space: str = "probability",
        max_columns: int = 12,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        device: str = "cpu",
    ) -> None:
        width = int(np.shape(background)[-1])
        if width > max_columns:
            raise ValueError(
                f"exact enumeration evaluates 2**{width} coalitions per row; it is limited to "
                f"{max_columns} columns: use the permutation method"
            )
        super().__init__(predict_fn, background, output_space, batch_rows, device)
        self._masks, self._weights = _enumeration(self.n_columns)
        self.params["coalitions"] = 2**self.n_columns


def _enumeration(m: int) -> tuple[np.ndarray, np.ndarray]:
    """Every proper coalition as a mask, and Shapley's closed-form weights as a matrix:
    phi_i = sum over S without i of |S|! (m-|S|-1)! / m! (v(S + i) - v(S)), so v(S) weighs
    +w(|S|-1) on each i in S and -w(|S|) on each i outside it."""
    codes = np.arange(1 << m, dtype=np.int64)
    masks = (codes[:, None] >> np.arange(m)) & 1 == 1
    sizes = masks.sum(axis=1)
    w = np.array(
        [math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m) for s in range(m)] + [0.0]
    )
    weights = np.where(masks, w[np.maximum(sizes - 1, 0)][:, None], -w[sizes][:, None])
    # Reorder to the layout CoalitionExplainer expects: empty, full, then the proper ones.
    order = np.concatenate([[0, (1 << m) - 1], np.arange(1, (1 << m) - 1)])
    return masks[1:-1], weights[order]
