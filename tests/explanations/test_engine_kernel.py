"""KernelExplainer: full enumeration is exact; sampling is seeded and batch-independent."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from explanations.engine import KernelExplainer

WEIGHTS = np.array([0.9, -0.6, 0.4, 0.0, 1.1, -0.3, 0.7, -0.8])


def positive_probability(X: np.ndarray) -> np.ndarray:
    """A non-additive model: interactions and a non-linearity, so Shapley values are not trivial."""
    X = np.asarray(X, dtype=np.float64)
    z = X @ WEIGHTS[: X.shape[1]] + 0.8 * X[:, 0] * X[:, 1] - 0.5 * X[:, 2] * X[:, 3]
    return 1.0 / (1.0 + np.exp(-(z + np.sin(X[:, 4]))))


def two_class_probabilities(X: np.ndarray) -> np.ndarray:
    p = positive_probability(X)
    return np.column_stack([1.0 - p, p])


def brute_force_shapley(f, x: np.ndarray, background: np.ndarray, link=lambda v: v) -> np.ndarray:
    """Exact Shapley values of v(S) = link(mean over background rows of f(x_S, b_notS))."""
    m = x.shape[0]
    value: dict[frozenset[int], float] = {}
    for size in range(m + 1):
        for subset in itertools.combinations(range(m), size):
            mixed = background.copy()
            mixed[:, list(subset)] = x[list(subset)]
            value[frozenset(subset)] = float(link(f(mixed).mean()))
    phi = np.zeros(m)
    for i in range(m):
        others = [j for j in range(m) if j != i]
        for size in range(m):
            weight = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
            for subset in itertools.combinations(others, size):
                s = frozenset(subset)
                phi[i] += weight * (value[s | {i}] - value[s])
    return phi


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(15, 8)), rng.normal(size=(4, 8))


def test_full_enumeration_equals_brute_force_shapley(data):
    background, rows = data
    explainer = KernelExplainer(two_class_probabilities, background, nsamples="exact")

    explanation = explainer.explain(rows)

    predicted = two_class_probabilities(rows).argmax(axis=1)
    assert explanation.explained_class.tolist() == predicted.tolist()
    for i, x in enumerate(rows):

        def f(X, c=predicted[i]):
            return two_class_probabilities(X)[:, c]

        assert np.abs(explanation.values[i] - brute_force_shapley(f, x, background)).max() < 1e-6
    assert explanation.params == {
        "nsamples": 254,
        "exact": True,
        "link": "identity",
        "l1_reg": False,
        "seed": 0,
        "background_rows": 15,
    }
    assert explanation.output_space == "probability"
    assert explanation.additivity_error.max() < 1e-10


def test_enough_samples_or_auto_on_few_columns_is_exact(data):
    background, _ = data

    assert KernelExplainer(two_class_probabilities, background, nsamples=300).params["exact"]
    assert KernelExplainer(two_class_probabilities, background).params["nsamples"] == 254
    assert not KernelExplainer(two_class_probabilities, background, nsamples=100).exact


def test_logit_link_single_output_is_exact_in_log_odds(data):
    background, rows = data
    explainer = KernelExplainer(positive_probability, background, nsamples="exact", link="logit")

    explanation = explainer.explain(rows[:2])
    flipped = explainer.explain(rows[:2], classes=np.array([0, 0]))

    def logit(p):
        return np.log(p / (1 - p))

    expected = brute_force_shapley(positive_probability, rows[0], background, link=logit)
    assert explanation.output_space == "log_odds"
    assert explanation.explained_class.tolist() == [1, 1]
    assert np.abs(explanation.values[0] - expected).max() < 1e-6
    assert np.abs(explanation.predictions - logit(positive_probability(rows[:2]))).max() < 1e-12
    assert np.array_equal(flipped.values, -explanation.values)
    assert np.array_equal(flipped.base_values, -explanation.base_values)
    assert flipped.additivity_error.max() < 1e-10


def test_sampling_is_seeded_and_independent_of_the_batch():
    rng = np.random.default_rng(1)
    background, rows = rng.normal(size=(10, 14)), rng.normal(size=(3, 14))

    def model(X):
        return two_class_probabilities(np.asarray(X)[:, :8] + 0.1 * np.asarray(X)[:, 8:].sum(1)[:, None])

    explainer = KernelExplainer(model, background, nsamples=400, seed=7)
    state_before = np.random.get_state()[1].copy()

    first = explainer.explain(rows)
    again = explainer.explain(rows)
    last_alone = explainer.explain(rows[2:])

    assert not explainer.exact
    assert np.array_equal(first.values, again.values)
    assert np.array_equal(first.values[2:], last_alone.values)
    assert first.additivity_error.max() < 1e-10  # Kernel SHAP enforces the sum
    assert np.array_equal(np.random.get_state()[1], state_before)


def test_exact_refuses_too_many_columns():
    background = np.zeros((3, 13))

    with pytest.raises(ValueError, match="limited to 12 columns"):
        KernelExplainer(two_class_probabilities, background, nsamples="exact")
