"""DeepExplainer and its fallback GradientExplainer on tiny Keras models over sklearn's digits."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from sklearn.datasets import load_digits  # noqa: E402

from explanations.engine import (  # noqa: E402
    DeepExplainer,
    ExplanationError,
    GradientExplainer,
    make_explainer,
)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@pytest.fixture(scope="module")
def cnn(digits):
    X, y = digits
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(X[:1500].reshape(-1, 8, 8, 1), y[:1500], epochs=2, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="module")
def deep(cnn, digits):
    X, _ = digits
    return DeepExplainer(cnn, X[:40])


def probabilities(model, rows: np.ndarray) -> np.ndarray:
    shaped = rows.reshape((-1, *model.inputs[0].shape[1:]))
    return np.asarray(model(shaped, training=False), dtype=np.float64)


def test_deep_is_additive_on_the_predicted_class(deep, cnn, digits):
    X, _ = digits
    rows = X[1500:1508]

    explanation = deep.explain(rows)

    probs = probabilities(cnn, rows)
    predicted = probs.argmax(axis=1)
    assert explanation.method == "deep"
    assert explanation.output_space == "probability"
    assert explanation.values.shape == (8, 64)
    assert explanation.explained_class.tolist() == predicted.tolist()
    assert np.abs(explanation.predictions - probs[np.arange(8), predicted]).max() < 1e-6
    background_mean = probabilities(cnn, X[:40]).mean(axis=0)
    assert np.abs(explanation.base_values - background_mean[predicted]).max() < 1e-6
    assert explanation.additivity_error.max() < 1e-4
    assert explanation.params == {"background_rows": 40, "input_shape": [8, 8, 1]}
    assert explanation.device == "cpu" or explanation.device.startswith("cuda:0 ")
    assert "tensorflow" in explanation.versions and "keras" in explanation.versions


def test_deep_batch_equals_one_row_at_a_time(deep, digits):
    X, _ = digits
    rows = X[1500:1504]

    batch = deep.explain(rows)
    single = np.vstack([deep.explain(rows[i : i + 1]).values for i in range(4)])

    assert np.abs(batch.values - single).max() < 1e-6


def test_deep_explains_the_classes_asked_for(deep, cnn, digits):
    X, _ = digits
    rows = X[1500:1504]
    asked = (probabilities(cnn, rows).argmax(axis=1) + 1) % 10

    explanation = deep.explain(rows, classes=asked)

    assert explanation.explained_class.tolist() == asked.tolist()
    assert np.abs(explanation.predictions - probabilities(cnn, rows)[np.arange(4), asked]).max() < 1e-6
    assert explanation.additivity_error.max() < 1e-4


def test_deep_on_a_linear_model_is_the_exact_shapley_value(digits):
    X, _ = digits
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(3)])
    weights = model.layers[0].get_weights()[0]  # (64, 3)
    background, rows = X[:30], X[1500:1503]

    explanation = make_explainer("deep", model=model, background=background).explain(rows)

    chosen = explanation.explained_class
    # For f(x) = w.x + b with independent features, phi_i = w_i (x_i - E[b_i]) exactly.
    expected = weights[:, chosen].T * (rows - background.mean(axis=0))
    assert np.abs(explanation.values - expected).max() < 1e-5


def test_deep_single_sigmoid_output_explains_class_one_or_zero(digits):
    X, _ = digits
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(1, activation="sigmoid")])
    explainer = DeepExplainer(model, X[:20])

    positive = explainer.explain(X[1500:1503])
    negative = explainer.explain(X[1500:1503], classes=np.array([0, 0, 0]))

    p = probabilities(model, X[1500:1503])[:, 0]
    assert positive.explained_class.tolist() == [1, 1, 1]
    assert np.abs(positive.predictions - p).max() < 1e-6
    assert np.array_equal(negative.values, -positive.values)
    assert np.abs(negative.predictions - (1 - p)).max() < 1e-6
    assert negative.additivity_error.max() < 1e-4


def test_gradient_is_seeded_batch_independent_and_reports_additivity(cnn, digits):
    X, _ = digits
    rows = X[1500:1504]
    explainer = GradientExplainer(cnn, X[:40], nsamples=64, seed=3)
    state_before = np.random.get_state()[1].copy()

    first = explainer.explain(rows)
    again = explainer.explain(rows)
    last_alone = explainer.explain(rows[3:])

    assert first.method == "gradient"
    assert first.params == {
        "background_rows": 40,
        "input_shape": [8, 8, 1],
        "nsamples": 64,
        "seed": 3,
        "batch_size": 50,
    }
    assert np.array_equal(first.values, again.values)
    assert np.array_equal(first.values[3:], last_alone.values)
    assert np.array_equal(np.random.get_state()[1], state_before)
    # A Monte Carlo estimate: the sum is only approximately f(x) - E[f]; report, not assert tight.
    errors = first.additivity_error
    assert np.isfinite(errors).all()
    assert np.allclose(errors, np.abs(first.base_values + first.values.sum(1) - first.predictions))


def test_gradient_on_a_linear_model_with_one_reference_is_exact(digits):
    X, _ = digits
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(3)])
    weights = model.layers[0].get_weights()[0]
    reference, rows = X[:1], X[1500:1503]

    explanation = GradientExplainer(model, reference, nsamples=8).explain(rows)

    chosen = explanation.explained_class
    expected = weights[:, chosen].T * (rows - reference)
    assert np.abs(explanation.values - expected).max() < 1e-5
    assert explanation.additivity_error.max() < 1e-4


def test_a_failed_deep_explanation_leaves_gradient_working(digits):
    X, _ = digits
    keras.utils.set_random_seed(4)
    # Deep SHAP has no rule for a global max over a feature map (TensorFlow's "Max" op here).
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalMaxPooling2D(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    rows = X[1500:1502]

    with pytest.raises(ExplanationError, match="use method 'gradient'"):
        DeepExplainer(model, X[:10]).explain(rows)

    # Without the engine's clean-up, shap leaves TensorFlow's gradient hook pointing at its
    # own and this fails with "gradient registry has no entry for: shap_StridedSlice".
    explanation = GradientExplainer(model, X[:10], nsamples=16).explain(rows)
    assert explanation.values.shape == (2, 64)
    assert np.isfinite(explanation.values).all()
