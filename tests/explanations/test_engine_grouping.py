"""group_contributions: column attributions summed into the original features."""

from __future__ import annotations

import numpy as np
import pytest

from explanations.engine import group_contributions

GROUPS = [("age", [0]), ("housing", [1, 2, 3]), ("image", [4, 5, 6, 7])]


def test_sums_each_features_columns():
    values = np.arange(16, dtype=np.float64).reshape(2, 8)

    grouped = group_contributions(values, GROUPS)

    assert grouped.tolist() == [[0.0, 6.0, 22.0], [8.0, 30.0, 54.0]]
    assert grouped.dtype == np.float64


def test_preserves_each_rows_total():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(50, 8))
    groups = [("b", [7, 1]), ("a", [0, 2, 5]), ("c", [3, 4, 6])]  # any order, any layout

    grouped = group_contributions(values, groups)

    assert grouped.shape == (50, 3)
    assert np.abs(grouped.sum(axis=1) - values.sum(axis=1)).max() < 1e-12
    assert np.allclose(grouped[:, 0], values[:, 7] + values[:, 1])


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([("a", [0, 1, 2]), ("b", [2, 3, 4, 5, 6, 7])], r"columns \[2\] are in two groups"),
        ([("a", [0, 1, 2]), ("b", [4, 5, 6, 7])], r"columns \[3\] are in no group"),
        ([("a", [0, 1, 2, 3, 4, 5, 6, 8])], "outside 0..7"),
        ([("a", [0, 0, 1, 2, 3, 4, 5, 6, 7])], "names a column twice"),
        ([("a", list(range(8))), ("b", [])], "has no columns"),
    ],
)
def test_refuses_groups_that_would_not_preserve_the_total(groups, message):
    with pytest.raises(ValueError, match=message):
        group_contributions(np.zeros((1, 8)), groups)
