"""OnnxPredictor gives onnxruntime's own outputs for tabular and image models, and refuses
what it cannot run with a short message (no database)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from decisions.predictors import ArtifactError, load_predictor
from decisions.predictors.onnx import OnnxPredictor

# onnxruntime 1.31 loads IR versions up to 13; onnx.helper's default is newer.
IR_VERSION = 10


def _session(artifact: bytes) -> ort.InferenceSession:
    return ort.InferenceSession(artifact, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X[:, :6], y)
    return model, X[:, :6]


def test_classifier_gives_onnxruntimes_probabilities_in_any_batching(breast_cancer):
    model, X = breast_cancer
    artifact = to_onnx(model, X[:1].astype(np.float32), options={"zipmap": False}).SerializeToString()
    predictor = load_predictor("onnx", artifact)
    small_batches = OnnxPredictor(artifact, None, max_batch=7)

    expected = _session(artifact).run(["probabilities"], {"X": X.astype(np.float32)})[0].astype(np.float64)
    proba = predictor.predict_proba(X)

    assert isinstance(predictor, OnnxPredictor)
    assert (predictor.n_columns, predictor.input_shape, predictor.n_outputs) == (6, None, 2)
    assert predictor.device == ("cuda" if "CUDAExecutionProvider" in ort.get_available_providers() else "cpu")
    assert proba.dtype == np.float64 and proba.shape == (569, 2)
    assert np.array_equal(proba, expected)
    assert np.array_equal(small_batches.predict_proba(X), expected)
    assert np.abs(proba - model.predict_proba(X)).max() < 1e-5
    assert len(np.unique(proba[:, 1])) > 500  # the rows differ: a stale result would show


def test_regression_is_one_column_of_sklearns_predictions():
    X, y = load_diabetes(return_X_y=True)
    model = Ridge(alpha=0.1).fit(X, y)
    predictor = OnnxPredictor(to_onnx(model, X[:1].astype(np.float32)).SerializeToString(), None)

    scores = predictor.predict_proba(X)

    assert scores.shape == (442, 1)
    assert np.abs(scores[:, 0] - model.predict(X)).max() < 1e-4


def _image_model(layout: str, channels: int) -> bytes:
    """Conv + GlobalAveragePool + Flatten + Gemm + Softmax over 8x8 images, taking NCHW, NHWC
    (a Transpose first) or (N, h, w) greyscale (an Unsqueeze first) input."""
    rng = np.random.default_rng(3)
    shape = {"NCHW": [None, channels, 8, 8], "NHWC": [None, 8, 8, channels], "NHW": [None, 8, 8]}[layout]
    nodes, first = [], "image"
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]))
        first = "nchw"
    elif layout == "NHW":
        nodes.append(helper.make_node("Unsqueeze", ["image", "axis"], ["nchw"]))
        first = "nchw"
    nodes += [
        helper.make_node("Conv", [first, "kernel", "bias"], ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("GlobalAveragePool", ["relu"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("Gemm", ["flat", "dense", "dense_bias"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    weights = [
        numpy_helper.from_array(rng.normal(size=(4, channels, 3, 3)).astype(np.float32), "kernel"),
        numpy_helper.from_array(rng.normal(size=4).astype(np.float32), "bias"),
        numpy_helper.from_array(rng.normal(size=(4, 3)).astype(np.float32), "dense"),
        numpy_helper.from_array(rng.normal(size=3).astype(np.float32), "dense_bias"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis"),
    ]
    graph = helper.make_graph(
        nodes,
        "image",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 3])],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def test_image_rows_are_fed_in_the_models_layout():
    rows = np.random.default_rng(4).uniform(0, 1, size=(5, 8 * 8 * 3))  # (h, w, c) row-major
    nchw, nhwc = _image_model("NCHW", 3), _image_model("NHWC", 3)
    predictor = OnnxPredictor(nchw, [8, 8, 3])

    by_hand = _session(nchw).run(
        None, {"image": rows.reshape(5, 8, 8, 3).transpose(0, 3, 1, 2).astype(np.float32)}
    )
    untransposed = _session(nchw).run(None, {"image": rows.reshape(5, 3, 8, 8).astype(np.float32)})
    proba = predictor.predict_proba(rows)

    assert (predictor.n_columns, predictor.input_shape) == (192, (8, 8, 3))
    assert np.array_equal(proba, by_hand[0].astype(np.float64))
    assert np.abs(proba - untransposed[0]).max() > 1e-3  # the layout matters for this model
    assert np.abs(OnnxPredictor(nhwc, [8, 8, 3]).predict_proba(rows) - proba).max() < 1e-6


def test_greyscale_rows_fit_nchw_and_nhw_models():
    rows = np.random.default_rng(5).uniform(0, 1, size=(4, 64))
    nchw = OnnxPredictor(_image_model("NCHW", 1), [8, 8])
    nhw = OnnxPredictor(_image_model("NHW", 1), [8, 8, 1])

    by_hand = _session(_image_model("NCHW", 1)).run(
        None, {"image": rows.reshape(4, 1, 8, 8).astype(np.float32)}
    )

    assert np.array_equal(nchw.predict_proba(rows), by_hand[0].astype(np.float64))
    assert np.abs(nhw.predict_proba(rows) - by_hand[0]).max() < 1e-6


def _two_input_model() -> bytes:
    inputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, 2]) for name in ("a", "b")]
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["sum"])],
        "two",
        inputs,
        [helper.make_tensor_value_info("sum", TensorProto.FLOAT, [None, 2])],
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=IR_VERSION
    ).SerializeToString()


def _too_new_model() -> bytes:
    model = onnx.load_from_string(_image_model("NCHW", 3))
    model.ir_version = 99
    return model.SerializeToString()


def _zipmap_model() -> bytes:
    X, y = load_breast_cancer(return_X_y=True)
    model = LogisticRegression(max_iter=200).fit(X[:, :3], y)
    return to_onnx(model, X[:1, :3].astype(np.float32)).SerializeToString()


@pytest.mark.parametrize(
    ("make_artifact", "input_shape", "message"),
    [
        (
            lambda: np.random.default_rng(0).bytes(300),
            None,
            "not a loadable ONNX model: Failed to load model because protobuf parsing failed",
        ),
        (_two_input_model, None, "exactly one input; this one has 2 (a, b)"),
        (_too_new_model, [8, 8, 3], "not a loadable ONNX model: Unsupported model IR version: 99"),
        (_zipmap_model, None, 'export it with options={"zipmap": False}'),
        (lambda: _image_model("NCHW", 3), None, "is an image: give its input shape"),
        (lambda: _image_model("NCHW", 3), [8, 8], "does not take 8x8x1 images"),
    ],
    ids=["random bytes", "two inputs", "IR version 99", "zipmap", "image without shape", "wrong image shape"],
)
def test_unusable_artifacts_are_refused_with_a_short_message(make_artifact, input_shape, message):
    with pytest.raises(ArtifactError) as refused:
        OnnxPredictor(make_artifact(), input_shape)

    text = str(refused.value)
    assert message in text
    assert "ONNXRuntimeError" not in text and "/" not in text and "::" not in text and "\n" not in text
