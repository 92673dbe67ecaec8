"""PartitionExplainer: Owen values over shap's image partition, on scikit-learn models of the
bundled digits (greyscale 8x8) and the same digits in coloured ink (8x8x3). No TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression, Ridge

from explanations.engine import make_explainer
from explanations.engine.partition import PartitionExplainer

from .coloured_digits import SHAPE, coloured_digits


@pytest.fixture(scope="module")
def grey():
    X, y = load_digits(return_X_y=True)
    return X, y


@pytest.fixture(scope="module")
def colour():
    X, y = coloured_digits()
    model = LogisticRegression(max_iter=300).fit(X[:1400] / 255.0, y[:1400])
    return X, y, lambda rows: model.predict_proba(np.asarray(rows) / 255.0)


def test_on_a_linear_model_the_values_are_the_exact_shapley_values(grey):
    # Ridge regression of the digit's value from its pixels: f(x) = w.x + b. Any coalition value
    # of an additive function credits pixel i with w_i (x_i - mask_i), the mask being the
    # background's mean image; with a budget reaching every pixel, Owen values are exactly that.
    X, y = grey
    model = Ridge(alpha=1.0).fit(X[:1400], y[:1400])
    background, rows = X[:200], X[1400:1403]
    explainer = PartitionExplainer(
        lambda r: model.predict(r)[:, None], background, (8, 8), output_space="score", max_evals=6000
    )

    explanation = explainer.explain(rows)

    expected = model.coef_ * (rows - background.mean(axis=0))
    np.testing.assert_allclose(explanation.values, expected, atol=1e-9)
    np.testing.assert_allclose(explanation.predictions, model.predict(rows))
    masked = model.predict(background.mean(axis=0, keepdims=True))[0]
    np.testing.assert_allclose(explanation.base_values, np.full(3, masked))
    assert explanation.explained_class.tolist() == [0, 0, 0]
    assert explanation.output_space == "score"


def test_colour_probabilities_add_up_to_the_prediction_from_the_masked_image(colour):
    X, _, predict = colour
    rows = X[1400:1405]
    explainer = PartitionExplainer(predict, X[:100], SHAPE, max_evals=600)

    explanation = explainer.explain(rows)

    proba = predict(rows)
    masked = predict(X[:100].mean(axis=0, keepdims=True))[0]
    chosen = proba.argmax(axis=1)
    assert explanation.values.shape == (5, 192)
    assert explanation.explained_class.tolist() == chosen.tolist()
    np.testing.assert_array_equal(explanation.predictions, proba[np.arange(5), chosen])
    np.testing.assert_array_equal(explanation.base_values, masked[chosen])
    assert explanation.additivity_error.max() < 1e-9
    assert explanation.method == "partition" and explanation.output_space == "probability"
    assert explanation.params == {
        "max_evals": 600,
        "batch_size": 100,
        "seed": 0,
        "masker": "background mean image",
        "background_rows": 100,
        "input_shape": [8, 8, 3],
    }


def test_the_classes_asked_for_are_explained(colour):
    X, _, predict = colour
    rows = X[1400:1403]
    asked = (predict(rows).argmax(axis=1) + 3) % 10
    explainer = PartitionExplainer(predict, X[:100], SHAPE, max_evals=300)

    explanation = explainer.explain(rows, classes=asked)

    assert explanation.explained_class.tolist() == asked.tolist()
    np.testing.assert_array_equal(explanation.predictions, predict(rows)[np.arange(3), asked])
    assert explanation.additivity_error.max() < 1e-9
    with pytest.raises(ValueError, match="out of range"):
        explainer.explain(rows, classes=np.array([10, 0, 0]))


def test_a_small_budget_gives_a_coarser_map_with_the_same_total(colour):
    X, _, predict = colour
    row = X[1400:1401]
    fine = PartitionExplainer(predict, X[:100], SHAPE, max_evals=2000).explain(row)
    coarse = PartitionExplainer(predict, X[:100], SHAPE, max_evals=40).explain(row)

    assert coarse.additivity_error.max() < 1e-9
    np.testing.assert_allclose(coarse.values.sum(), fine.values.sum(), atol=1e-12)
    assert len(np.unique(coarse.values.round(12))) < len(np.unique(fine.values.round(12)))


def test_a_row_is_explained_alike_in_any_batch_and_by_any_explainer_of_the_same_seed(colour):
    X, _, predict = colour
    rows = X[1400:1404]
    explainer = PartitionExplainer(predict, X[:100], SHAPE, max_evals=300)

    batch = explainer.explain(rows).values
    single = np.vstack([explainer.explain(rows[i : i + 1]).values for i in range(4)])
    reversed_batch = explainer.explain(rows[::-1]).values[::-1]
    again = PartitionExplainer(predict, X[:100], SHAPE, max_evals=300).explain(rows).values

    np.testing.assert_array_equal(batch, single)
    np.testing.assert_array_equal(batch, reversed_batch)
    np.testing.assert_array_equal(batch, again)


def test_explaining_leaves_numpys_global_random_state_as_it_was(colour):
    # shap draws tie-breakers from numpy's global generator; the explainer seeds it for each row
    # and puts the process's state back, so other users of the generator see no difference.
    X, _, predict = colour
    explainer = PartitionExplainer(predict, X[:100], SHAPE, max_evals=100)
    np.random.seed(5)
    expected = np.random.random_sample(3)

    np.random.seed(5)
    explainer.explain(X[1400:1402])

    np.testing.assert_array_equal(np.random.random_sample(3), expected)


def test_the_model_is_called_in_batches(colour):
    X, _, predict = colour
    sizes: list[int] = []

    def counted(rows):
        sizes.append(len(rows))
        return predict(rows)

    PartitionExplainer(counted, X[:100], SHAPE, max_evals=500, batch_size=50).explain(X[1400:1401])

    assert max(sizes) == 50
    assert sum(sizes) < 520  # the budget, plus the masked image, x and shap's own two calls


def test_the_factory_builds_it_and_bad_arguments_are_refused(colour):
    X, _, predict = colour
    built = make_explainer(
        "partition", model=predict, background=X[:20], input_shape=list(SHAPE), max_evals=50
    )
    assert isinstance(built, PartitionExplainer) and built.n_columns == 192

    with pytest.raises(ValueError, match=r"background must be a non-empty \(n, 192\) array"):
        PartitionExplainer(predict, X[:20, :64], SHAPE)
    with pytest.raises(ValueError, match="output_space"):
        PartitionExplainer(predict, X[:20], SHAPE, output_space="log_odds")
    with pytest.raises(ValueError, match="max_evals"):
        PartitionExplainer(predict, X[:20], SHAPE, max_evals=0)
    with pytest.raises(ValueError, match="input_shape"):
        PartitionExplainer(predict, X[:20], (192,))
    with pytest.raises(ValueError, match=r"expected rows of shape \(n, 192\)"):
        built.explain(X[:2, :64])
