"""Colour images end to end: an RGB Keras CNN (Deep SHAP) and the same network as ONNX
(Partition SHAP) registered with their checks, decided through the API, explained by a real
worker, and the person's page draws the heatmap over their image."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")

import keras  # noqa: E402
from django.test import Client  # noqa: E402

from tests.explanations.coloured_digits import SCHEMA, SHAPE, coloured_digits  # noqa: E402
from tests.explanations.test_images_rgb import _onnx_copy, _saved  # noqa: E402
from tests.frameworks.bring import bring, post_and_wait  # noqa: E402

pytestmark = pytest.mark.integration

OUTPUT = {"type": "multiclass", "class_labels": [str(d) for d in range(10)], "favourable_label": None}


@pytest.fixture(scope="module")
def trained_cnn():
    X, y = coloured_digits()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(SHAPE),
            keras.layers.Rescaling(1 / 255.0),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(0.005), "sparse_categorical_crossentropy")
    model.fit(X[:1400].reshape(-1, *SHAPE), y[:1400], epochs=15, batch_size=32, verbose=0)
    return model, X


@pytest.mark.parametrize("framework, method", [("keras", "deep"), ("onnx", "partition")])
def test_an_rgb_cnn_gets_a_heatmap_of_the_image_shape(worker, integration, trained_cnn, framework, method):
    model, X = trained_cnn
    artifact = _saved(model) if framework == "keras" else _onnx_copy(model)
    version = bring(
        "form-digit",
        framework,
        artifact,
        names=["image"],
        X=X,
        output=OUTPUT,
        schema=SCHEMA,
        input_shape=list(SHAPE),
        background_rows=40,
    )
    assert version.status == "active", version.checks
    assert version.checks["report"]["method"] == method

    rows = [{"image": X[i].reshape(SHAPE).tolist()} for i in range(1500, 1504)]
    explanations = post_and_wait(integration, "form-digit", rows, timeout=180)
    assert {e.status for e in explanations} == {"done"}, [e.error for e in explanations]
    for explanation in explanations:
        assert explanation.method == method and len(explanation.raw_values) == 8 * 8 * 3
        assert explanation.additivity_error < 1e-2
        heat = np.asarray(explanation.raw_values).reshape(SHAPE).sum(axis=2)
        assert heat.shape == (8, 8) and np.abs(heat).max() > 0

    # The person's page draws the heatmap over their image, in its colours.
    page = Client().get(explanations[0].subject_path, follow=True)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Red: what made the model give this answer" in html and "<svg" in html
