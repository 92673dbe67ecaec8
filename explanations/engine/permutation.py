"""Permutation sampling of Shapley values for any model given as a prediction function.

Each of `npermutations` seeded permutations of the columns is walked forwards and backwards
(antithetic sampling, as shap's PermutationExplainer does): a column's attribution is the mean
over those 2 x npermutations orderings of v(columns before it, and it) - v(columns before it),
with the interventional v of exact.py. Every ordering's contributions sum to f(x) - v(empty),
so additivity is exact by construction.

All rows are explained with the same permutations, drawn once from `seed` when the explainer is
built: a row's attribution does not depend on the other rows of its batch, and the
coalition values of a whole batch are computed in a few large model calls. Cost per explained
row: at most 2 x npermutations x (M - 1) coalitions x background rows model evaluations
(coalitions repeated between orderings are evaluated once).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .exact import DEFAULT_BATCH_ROWS, CoalitionExplainer

__all__ = ["PermutationExplainer"]


class PermutationExplainer(CoalitionExplainer):
    method = "permutation"

    def __init__(
        self,
        predict_fn: Callable[[np.ndarray], np.ndarray],
        background: np.ndarray,
        output_space: str = "probability",
        npermutations: int = 10,
        seed: int = 0,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        device: str = "cpu",
    ) -> None:
        if isinstance(npermutations, bool) or not isinstance(npermutations, int) or npermutations < 1:
            raise ValueError(f"npermutations must be a positive int, got {npermutations!r}")
        super().__init__(predict_fn, background, output_space, batch_rows, device)
        self._masks, self._weights = _antithetic(self.n_columns, npermutations, int(seed))
        self.params.update(
            {
                "npermutations": npermutations,
                "antithetic": True,
                "seed": int(seed),
                "coalitions": int(self._masks.shape[0]) + 2,
            }
        )


def _antithetic(m: int, npermutations: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct proper prefixes of the orderings, and the weights (empty, full, then one row
    per prefix) that turn their values into the mean marginal contribution of each column."""
    rng = np.random.default_rng(seed)
    forward = np.array([rng.permutation(m) for _ in range(npermutations)])
    orders = np.concatenate([forward, forward[:, ::-1]])
    n_orders = orders.shape[0]
    weights = np.zeros((n_orders, m + 1, m))  # per ordering: the weight of each prefix size 0..m
    positions = np.arange(m)
    for t, order in enumerate(orders):
        weights[t, positions + 1, order] += 1.0  # v(prefix ending with the column)
        weights[t, positions, order] -= 1.0  # minus v(prefix just before it)
    weights /= n_orders
    edges = weights[:, [0, m]].sum(axis=0)  # v(empty) and v(all)
    if m < 2:
        return np.zeros((0, m), dtype=bool), edges
    rank = np.argsort(orders, axis=1)  # the position of each column in each ordering
    sizes = np.arange(1, m)
    prefixes = (rank[:, None, :] < sizes[None, :, None]).reshape(-1, m)
    unique, inverse = np.unique(prefixes, axis=0, return_inverse=True)
    merged = np.zeros((unique.shape[0], m))
    np.add.at(merged, inverse.reshape(-1), weights[:, 1:m].reshape(-1, m))
    return unique, np.concatenate([edges, merged])
