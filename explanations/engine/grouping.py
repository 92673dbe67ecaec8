"""Sum column attributions into the original features they encode."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .base import FloatArray

__all__ = ["group_contributions", "grouping_matrix"]


def group_contributions(values: np.ndarray, groups: Sequence[tuple[str, Sequence[int]]]) -> FloatArray:
    """Return (n_rows, n_groups) attributions, each group the sum of its columns.

    A one-hot encoded feature's columns, or an image's pixels, become one feature. Shapley values
    are additive, so the sum is the group's attribution as a whole; since every column must
    belong to exactly one group, each row's total is preserved.
    """
    matrix = np.asarray(values, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"values must be 2-D (n_rows, n_columns), got shape {matrix.shape}")
    return matrix @ grouping_matrix(matrix.shape[1], groups)


def grouping_matrix(n_columns: int, groups: Sequence[tuple[str, Sequence[int]]]) -> FloatArray:
    """The (n_columns, n_groups) 0/1 matrix mapping columns to groups; checks it is a partition."""
    out = np.zeros((n_columns, len(groups)), dtype=np.float64)
    for position, (name, columns) in enumerate(groups):
        indices = np.asarray(columns, dtype=np.int64).reshape(-1)
        if indices.size == 0:
            raise ValueError(f"group {name!r} has no columns")
        if indices.min() < 0 or indices.max() >= n_columns:
            raise ValueError(f"group {name!r} names a column outside 0..{n_columns - 1}")
        if np.unique(indices).size != indices.size:
            raise ValueError(f"group {name!r} names a column twice")
        out[indices, position] = 1.0
    per_column = out.sum(axis=1)
    if (per_column > 1).any():
        raise ValueError(f"columns {np.flatnonzero(per_column > 1).tolist()} are in two groups")
    if (per_column == 0).any():
        raise ValueError(f"columns {np.flatnonzero(per_column == 0).tolist()} are in no group")
    return out
