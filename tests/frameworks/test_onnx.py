"""ONNX models end to end: registered with their checks, decided through the API, explained by a
real worker with exact enumeration (up to 12 columns) or permutation SHAP (above)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import onnxruntime
import pytest
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tests.frameworks.bring import bring, identifiers, post_and_wait, rows_of

pytestmark = pytest.mark.integration

OUTPUT = {
    "type": "binary",
    "class_labels": ["malignant", "benign"],
    "favourable_label": "benign",
    "threshold": 0.5,
}


def onnx_classifier(X: np.ndarray, y: np.ndarray) -> bytes:
    model = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=600, random_state=0)
    )
    model.fit(X, y)
    onnx_model = to_onnx(model, X[:1].astype(np.float32), options={"zipmap": False}, target_opset=17)
    onnx_model.ir_version = 10  # what onnxruntime 1.31 reads
    return onnx_model.SerializeToString()


def brute_force_shapley(f, x: np.ndarray, background: np.ndarray) -> np.ndarray:
    """v(S) = mean over the background of f(x_S, b_notS); Shapley values by their definition."""
    m = x.shape[0]
    value = {}
    for size in range(m + 1):
        for subset in itertools.combinations(range(m), size):
            mixed = background.copy()
            mixed[:, list(subset)] = x[list(subset)]
            value[frozenset(subset)] = float(f(mixed).mean())
    phi = np.zeros(m)
    for i in range(m):
        for size in range(m):
            for subset in itertools.combinations([j for j in range(m) if j != i], size):
                weight = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
                phi[i] += weight * (value[frozenset((*subset, i))] - value[frozenset(subset)])
    return phi


def test_a_six_feature_onnx_network_is_explained_exactly(worker, integration):
    data = load_breast_cancer()
    names = identifiers(data.feature_names[:6])
    X, y = data.data[:, :6], data.target
    artifact = onnx_classifier(X[100:], y[100:])
    version = bring("tumour-onnx", "onnx", artifact, names=names, X=X, output=OUTPUT)
    assert version.status == "active", version.checks
    assert version.checks["report"]["method"] == "exact"

    explanations = post_and_wait(integration, "tumour-onnx", rows_of(names, X[60:72]))
    assert {e.status for e in explanations} == {"done"}, [e.error for e in explanations]
    session = onnxruntime.InferenceSession(artifact)

    def positive(rows):
        return session.run(None, {session.get_inputs()[0].name: rows.astype(np.float32)})[1][:, 1].astype(
            np.float64
        )

    background = X[:50].astype(np.float64)
    for explanation, x in zip(explanations, X[60:72], strict=True):
        assert explanation.method == "exact" and explanation.output_space == "probability"
        expected = brute_force_shapley(positive, x, background)
        np.testing.assert_allclose(explanation.raw_values, expected, atol=1e-6)
        total = explanation.base_value + sum(explanation.raw_values)
        assert total == pytest.approx(positive(x[None, :])[0], abs=1e-6)


def test_an_onnx_model_whose_width_differs_from_the_schema_is_rejected(db):
    data = load_breast_cancer()
    X, y = data.data[:, :6], data.target
    artifact = onnx_classifier(X, y)
    names = identifiers(data.feature_names[:5])
    version = bring("tumour-onnx", "onnx", artifact, names=names, X=X[:, :5], output=OUTPUT)
    assert version.status == "rejected"
    assert version.checks["reasons"] == ["input width: the model takes 6 columns, the schema encodes 5"]
    assert version.model.default_version_id is None
