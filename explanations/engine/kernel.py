"""Kernel SHAP for any model given as a prediction function, through shap."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final, Literal

import numpy as np

from .base import (
    SHAP_GLOBAL_STATE_LOCK,
    Explainer,
    Explanation,
    ExplanationError,
    check_classes,
    check_rows,
    flip_to_negative_class,
    seeded_global_rng,
)
from .devices import library_versions

__all__ = ["MAX_EXACT_COLUMNS", "KernelExplainer"]

# Full enumeration evaluates the model on 2**M - 2 coalitions times the background rows for
# every explained row: 4,094 x 100 model rows per explanation at M = 12 is the most we allow.
MAX_EXACT_COLUMNS: Final = 12


class KernelExplainer(Explainer):
    """shap.KernelExplainer over `predict_fn`, which returns probabilities (n, n_classes) or (n,).

    The value of a coalition S is the mean over the background rows of f(x_S, b_notS), the
    interventional value function. With M columns, when every one of the 2**M - 2 proper
    coalitions is evaluated ("exact", or nsamples >= 2**M - 2, or "auto" for M <= 11), the
    weighted regression has a unique exact solution: the results are the exact Shapley values
    for that value function. Otherwise coalitions are sampled from a fixed seed.

    Attributions are in probability space with link="identity", in log-odds with link="logit".
    The device is where predict_fn runs, which only the caller knows; the default says "cpu".
    """

    method = "kernel"

    def __init__(
        self,
        predict_fn: Callable[[np.ndarray], np.ndarray],
        background: np.ndarray,
        nsamples: Literal["auto", "exact"] | int = "auto",
        link: Literal["identity", "logit"] = "identity",
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        import shap

        if link not in ("identity", "logit"):
            raise ValueError(f"link must be 'identity' or 'logit', got {link!r}")
        reference = np.ascontiguousarray(background, dtype=np.float64)
        if reference.ndim != 2 or reference.shape[0] == 0:
            raise ValueError(f"background must be a non-empty 2-D array, got {reference.shape}")
        self.n_columns = int(reference.shape[1])
        self._nsamples, self.exact = _resolve_nsamples(nsamples, self.n_columns)
        self._predict_fn = predict_fn
        self._seed = int(seed)
        with SHAP_GLOBAL_STATE_LOCK:
            # Evaluates predict_fn on the background once, for the base value.
            self._shap = shap.KernelExplainer(predict_fn, reference, link=link)
        fnull = np.atleast_1d(np.asarray(self._shap.fnull, dtype=np.float64))
        self._single_output = not self._shap.vector_out
        self._base = np.asarray(self._shap.link.f(fnull), dtype=np.float64).reshape(-1)
        self._link = self._shap.link.f
        self.output_space = "log_odds" if link == "logit" else "probability"
        self.device = device
        self.params = {
            "nsamples": self._nsamples,
            "exact": self.exact,
            "link": link,
            "l1_reg": False,
            "seed": self._seed,
            "background_rows": int(reference.shape[0]),
        }
        self.versions = library_versions()

    def explain(self, X: np.ndarray, classes: np.ndarray | None = None) -> Explanation:
        """Explain the predicted class (class 1 for a single output) unless `classes` says."""
        started = time.perf_counter()
        rows = check_rows(X, self.n_columns)
        n_rows = rows.shape[0]
        index = np.arange(n_rows)
        # shap's KernelExplainer keeps per-call state on the instance: one call at a time.
        with SHAP_GLOBAL_STATE_LOCK:
            outputs = np.asarray(self._predict_fn(rows), dtype=np.float64).reshape(n_rows, -1)
            if self._single_output:
                explained = check_classes(classes, np.ones(n_rows, dtype=np.int64), 2)
                output_index = np.zeros(n_rows, dtype=np.int64)
            else:
                explained = check_classes(classes, np.argmax(outputs, axis=1), outputs.shape[1])
                output_index = explained
            phis = self._shap_values(rows).reshape(n_rows, self.n_columns, -1)
        values = phis[index, :, output_index]
        base_values = self._base[output_index].copy()
        predictions = np.asarray(self._link(outputs[index, output_index]), dtype=np.float64)
        if self._single_output:
            flip_to_negative_class(values, base_values, predictions, explained == 0, self.output_space)
        return self._result(
            values=values,
            base_values=base_values,
            predictions=predictions,
            explained_class=explained,
            started=started,
        )

    def _shap_values(self, rows: np.ndarray) -> np.ndarray:
        options = {"nsamples": self._nsamples, "l1_reg": False, "silent": True}
        try:
            if self.exact:
                # Full enumeration draws no random numbers: one call for the whole batch.
                return np.asarray(self._shap.shap_values(rows, **options), dtype=np.float64)
            # Sampling draws every row's coalitions from one global stream, so in one batched
            # call a row's numbers would depend on the rows before it. Seeding each row alike
            # makes a decision's explanation the same whichever batch it lands in; shap loops
            # over rows internally anyway.
            explained = []
            for row in range(rows.shape[0]):
                with seeded_global_rng(self._seed):
                    explained.append(self._shap.shap_values(rows[row : row + 1], **options))
            return np.concatenate(explained, axis=0).astype(np.float64)
        except Exception as exc:
            raise ExplanationError(f"Kernel SHAP failed ({type(exc).__name__}: {exc})") from exc


def _resolve_nsamples(nsamples: str | int, n_columns: int) -> tuple[int, bool]:
    """Return (coalitions evaluated per row, whether that is every proper coalition)."""
    all_coalitions = 2**n_columns - 2 if n_columns <= 30 else None
    if nsamples == "exact":
        if n_columns > MAX_EXACT_COLUMNS:
            raise ValueError(
                f"exact Kernel SHAP enumerates 2**{n_columns} coalitions per row; it is "
                f"limited to {MAX_EXACT_COLUMNS} columns. Group columns or pass an int nsamples"
            )
        return max(all_coalitions or 0, 1), True
    if nsamples == "auto":
        count = 2 * n_columns + 2048  # shap's own "auto"
    elif isinstance(nsamples, int) and not isinstance(nsamples, bool) and nsamples > 0:
        count = nsamples
    else:
        raise ValueError(f"nsamples must be 'auto', 'exact' or a positive int, got {nsamples!r}")
    if all_coalitions is not None and count >= all_coalitions:
        return max(all_coalitions, 1), True
    return count, False
