"""Colour images end to end without a database: a Keras CNN trained on coloured digits, loaded
through KerasPredictor and explained by Deep and Gradient SHAP; the same network as an ONNX graph
(NCHW) through OnnxPredictor and Partition SHAP; the heatmap drawn over the image in its colours;
and Keras files carrying code refused."""

from __future__ import annotations

import base64
import io
import os
import re
import tempfile
import zipfile
from xml.etree import ElementTree

import numpy as np
import pytest

keras = pytest.importorskip("keras")
onnx = pytest.importorskip("onnx")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from PIL import Image  # noqa: E402

from decisions.image_features import pixel_map, rgb_pixels  # noqa: E402
from decisions.predictors import ArtifactError, load_predictor  # noqa: E402
from decisions.schema import FeatureSchema  # noqa: E402
from explanations.engine import DeepExplainer, GradientExplainer, make_explainer  # noqa: E402
from explanations.render import HEAT_AWAY, HEAT_TOWARD, heat_overlay, heatmap_rgb, image_pair  # noqa: E402

from .coloured_digits import INKS, SCHEMA, SHAPE, coloured_digits  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"
FEATURE = FeatureSchema.from_dict(SCHEMA)["image"]


@pytest.fixture(scope="module")
def data():
    return coloured_digits()


@pytest.fixture(scope="module")
def cnn_file(data) -> bytes:
    """A small CNN on the 0-255 colour images, saved as a .keras file."""
    X, y = data
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
    model.fit(X[:1400].reshape(-1, *SHAPE), y[:1400], epochs=20, batch_size=32, verbose=0)
    return _saved(model)


@pytest.fixture(scope="module")
def cnn(cnn_file):
    return load_predictor("keras", cnn_file, input_shape=list(SHAPE))


def _saved(model) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        with open(path, "rb") as fh:
            return fh.read()


def test_the_keras_cnn_reads_rgb_rows_in_h_w_c_order(cnn, data):
    X, y = data
    proba = cnn.predict_proba(X[1400:])
    assert cnn.input_shape == SHAPE and cnn.n_columns == 192
    assert proba.shape == (397, 10)
    assert (proba.argmax(axis=1) == y[1400:]).mean() > 0.8
    # The same images given to the model directly, shaped (n, 8, 8, 3): the same outputs.
    direct = np.asarray(cnn.model(X[1400:1410].reshape(-1, 8, 8, 3).astype(np.float32)), dtype=np.float64)
    np.testing.assert_allclose(proba[:10], direct, atol=1e-6)


def test_deep_shap_explains_the_rgb_cnn_additively(cnn, data):
    X, _ = data
    rows = X[1400:1406]
    explainer = make_explainer("deep", model=cnn.model, background=X[:40], input_shape=cnn.input_shape)

    explanation = explainer.explain(rows)

    assert isinstance(explainer, DeepExplainer)
    assert explanation.values.shape == (6, 8 * 8 * 3)
    assert explanation.explained_class.tolist() == cnn.predict_proba(rows).argmax(axis=1).tolist()
    assert explanation.additivity_error.max() < 1e-4
    assert explanation.params["input_shape"] == [8, 8, 3]
    # The ink matters and the blank paper far less: over a row's strokes, the attributions'
    # mass is larger than over the paper.
    ink = rows.reshape(6, 8, 8, 3).min(axis=3) < 128
    heat = np.abs(np.stack([pixel_map(FEATURE, v) for v in explanation.values]))
    assert (heat[ink].mean()) > heat[~ink].mean()


def test_gradient_shap_explains_the_rgb_cnn(cnn, data):
    X, _ = data
    explainer = GradientExplainer(cnn.model, X[:40], input_shape=cnn.input_shape, nsamples=200)

    explanation = explainer.explain(X[1400:1402])

    assert explanation.values.shape == (2, 192)
    # A Monte Carlo estimate: additive approximately, within a tenth of a probability here.
    assert explanation.additivity_error.max() < 0.1


def _onnx_copy(model) -> bytes:
    """The trained Keras network as an ONNX graph taking NCHW images, weights copied across."""
    _, conv1, _, conv2, _, dense = model.layers
    w1, b1 = conv1.get_weights()
    w2, b2 = conv2.get_weights()
    wd, bd = dense.get_weights()
    init = [
        # Keras kernels are (kh, kw, in, out); ONNX's (out, in, kh, kw). The 1/255 rescaling is
        # folded into the first convolution.
        numpy_helper.from_array((w1.transpose(3, 2, 0, 1) / 255.0).astype(np.float32), "w1"),
        numpy_helper.from_array(b1, "b1"),
        numpy_helper.from_array(w2.transpose(3, 2, 0, 1).astype(np.float32), "w2"),
        numpy_helper.from_array(b2, "b2"),
        numpy_helper.from_array(wd, "wd"),
        numpy_helper.from_array(bd, "bd"),
    ]
    nodes = [
        helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "wd", "bd"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "coloured-digits",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, 8, 8])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["n", 10])],
        init,
    )
    built = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    built.ir_version = 8
    onnx.checker.check_model(built)
    return built.SerializeToString()


@pytest.fixture(scope="module")
def onnx_cnn(cnn):
    return load_predictor("onnx", _onnx_copy(cnn.model), input_shape=list(SHAPE))


def test_the_onnx_copy_takes_our_rgb_rows_and_agrees_with_keras(onnx_cnn, cnn, data):
    X, _ = data
    assert onnx_cnn.input_shape == SHAPE and onnx_cnn.n_columns == 192
    np.testing.assert_allclose(onnx_cnn.predict_proba(X[1400:]), cnn.predict_proba(X[1400:]), atol=1e-5)


def test_partition_shap_explains_the_onnx_cnn_with_a_heatmap(onnx_cnn, data):
    X, _ = data
    rows = X[1400:1404]
    explainer = make_explainer(
        "partition",
        model=onnx_cnn.predict_proba,
        background=X[:100],
        input_shape=onnx_cnn.input_shape,
        max_evals=800,
    )

    explanation = explainer.explain(rows)

    proba = onnx_cnn.predict_proba(rows)
    assert explanation.values.shape == (4, 192)
    assert explanation.explained_class.tolist() == proba.argmax(axis=1).tolist()
    np.testing.assert_allclose(explanation.predictions, proba.max(axis=1), atol=1e-12)
    masked = onnx_cnn.predict_proba(X[:100].mean(axis=0, keepdims=True))[0]
    np.testing.assert_allclose(explanation.base_values, masked[explanation.explained_class], atol=1e-12)
    assert explanation.additivity_error.max() < 1e-6
    heat = pixel_map(FEATURE, explanation.values[0])
    assert heat.shape == (8, 8)
    np.testing.assert_allclose(heat.sum(), explanation.values[0].sum())
    # The map is not flat: partition reached single pixels where they mattered.
    assert len(np.unique(np.round(heat, 12))) > 16


# ---------------------------------------------------------------------------- the heatmap
def _fills(svg: str) -> tuple[np.ndarray, np.ndarray, int]:
    """The SVG's squares composited as a browser would: (image levels, shown levels, cell)."""
    root = ElementTree.fromstring(svg)  # noqa: S314 - our own output
    width, height = (int(v) for v in root.get("viewBox").split()[2:])
    rects = root.findall(f"{SVG}rect")
    cell = int(rects[0].get("width"))
    base = np.zeros((height // cell, width // cell, 3))
    shown = base.copy()
    for rect in rects:
        r, c = int(rect.get("y")) // cell, int(rect.get("x")) // cell
        colour = np.array([int(v) for v in re.findall(r"\d+", rect.get("fill"))], dtype=np.float64)
        opacity = float(rect.get("fill-opacity", "1"))
        if opacity == 1:
            base[r, c] = shown[r, c] = colour
        else:
            shown[r, c] = shown[r, c] * (1 - opacity) + colour * opacity
    return base, np.rint(shown), cell


def test_the_heatmap_is_drawn_over_the_image_in_its_colours(data):
    X, _ = data
    pixels = X[1400]
    values = np.zeros(192)
    values[(2 * 8 + 3) * 3 + 1] = 0.5  # row 3, column 4, green: toward
    values[(6 * 8 + 1) * 3 : (6 * 8 + 2) * 3] = -0.1  # row 7, column 2, all channels: away

    pair = image_pair(FEATURE, pixels.tolist(), values.tolist(), "7")

    image, _, cell = _fills(str(pair["image"]))
    np.testing.assert_array_equal(image, pixels.reshape(8, 8, 3))  # 0-255 shown as it is
    assert cell == 24
    base, shown, _ = _fills(str(pair["heatmap"]))
    np.testing.assert_array_equal(base, image)
    changed = np.argwhere((shown != base).any(axis=2)).tolist()
    assert changed == [[2, 3], [6, 1]]
    # Red over the pixel that pushed toward the answer, blue over the one that pushed away,
    # the larger attribution the more opaque.
    heatmap = ElementTree.fromstring(str(pair["heatmap"]))  # noqa: S314 - our own output
    overlay = {
        (int(rect.get("y")) // cell, int(rect.get("x")) // cell): (rect.get("fill"), rect.get("fill-opacity"))
        for rect in heatmap.findall(f"{SVG}rect")
        if rect.get("fill-opacity")
    }
    assert overlay == {(2, 3): ("rgb(215,38,30)", "0.75"), (6, 1): ("rgb(31,95,168)", "0.45")}
    assert (HEAT_TOWARD, HEAT_AWAY) == ((215, 38, 30), (31, 95, 168))
    np.testing.assert_array_equal(shown, heatmap_rgb(base, *heat_overlay(pixel_map(FEATURE, values))))
    assert pair["description"].split("top left: ")[1].startswith("row 3, column 4;")


def test_bgr_and_greyscale_images_show_in_their_real_colours():
    bgr = FeatureSchema.from_dict({"features": [dict(SCHEMA["features"][0], channels="BGR")]})["image"]
    grey = FeatureSchema.from_dict(
        {"features": [{"name": "image", "type": "image", "shape": [8, 8], "minimum": 0, "maximum": 16}]}
    )["image"]
    ink = np.tile(INKS[0], 64)  # (200, 30, 30) everywhere, as stored

    assert rgb_pixels(bgr, ink)[0, 0].tolist() == [30, 30, 200]
    assert rgb_pixels(FEATURE, ink)[0, 0].tolist() == [200, 30, 30]
    levels = rgb_pixels(grey, np.linspace(0, 16, 64))
    assert levels[0, 0].tolist() == [0, 0, 0] and levels[7, 7].tolist() == [255, 255, 255]


def test_a_large_image_is_an_embedded_png_of_its_aspect():
    schema = {"features": [{"name": "photo", "type": "image", "shape": [40, 64, 3], "maximum": 255}]}
    feature = FeatureSchema.from_dict(schema)["photo"]
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=40 * 64 * 3).astype(np.float64)
    values = np.zeros(40 * 64 * 3)
    values[(10 * 64 + 50) * 3] = 2.0

    pair = image_pair(feature, pixels, values, "cat")

    root = ElementTree.fromstring(str(pair["heatmap"]))  # noqa: S314 - our own output
    assert root.get("viewBox") == "0 0 192 120" and not root.findall(f"{SVG}rect")
    href = root.find(f"{SVG}image").get("href")
    png = Image.open(io.BytesIO(base64.b64decode(href.split(",", 1)[1])))
    drawn = np.asarray(png.convert("RGB"))
    original = pixels.reshape(40, 64, 3)
    assert drawn.shape == (40, 64, 3)
    assert np.argwhere((drawn != original).any(axis=2)).tolist() == [[10, 50]]
    plain = ElementTree.fromstring(str(pair["image"])).find(f"{SVG}image").get("href")  # noqa: S314
    np.testing.assert_array_equal(
        np.asarray(Image.open(io.BytesIO(base64.b64decode(plain.split(",", 1)[1])))), original
    )


# ---------------------------------------------------------------------------- code in a file
def test_a_keras_file_with_a_lambda_layer_is_refused():
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Lambda(lambda x: x * 2), keras.layers.Dense(2, activation="softmax")]
    )

    with pytest.raises(ArtifactError) as refused:
        load_predictor("keras", _saved(model), input_shape=None)

    assert str(refused.value) == "Keras file with a Lambda layer (arbitrary code) refused"


def test_a_lambda_nested_in_a_sub_model_is_refused_too():
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda x: x + 1)])
    model = keras.Sequential([keras.Input((4,)), inner, keras.layers.Dense(2, activation="softmax")])

    with pytest.raises(ArtifactError, match="Lambda layer"):
        load_predictor("keras", _saved(model))


def test_a_broken_keras_file_is_refused_without_a_server_path(cnn_file):
    with zipfile.ZipFile(io.BytesIO(cnn_file)) as archive:
        config = archive.read("config.json")
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("config.json", config)  # the weights are missing

    with pytest.raises(ArtifactError) as refused:
        load_predictor("keras", broken.getvalue(), input_shape=list(SHAPE))
    with pytest.raises(ArtifactError, match="not a Keras model file"):
        load_predictor("keras", b"not a zip", input_shape=list(SHAPE))

    assert str(refused.value).startswith("not a loadable Keras model")
    assert "/tmp" not in str(refused.value) and tempfile.gettempdir() not in str(refused.value)


def test_a_declared_shape_the_keras_model_cannot_take_is_refused(cnn_file):
    with pytest.raises(ArtifactError, match=r"declared input_shape \[3, 8, 8\] does not match"):
        load_predictor("keras", cnn_file, input_shape=[3, 8, 8])
