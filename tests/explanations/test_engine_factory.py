"""make_explainer, auto_method, the Explanation value, devices, versions and lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from explanations.engine import (
    Explanation,
    KernelExplainer,
    TreeExplainer,
    detect_devices,
    library_versions,
    make_explainer,
)
from explanations.engine.factory import auto_method

REPOSITORY = Path(__file__).resolve().parents[2]


def explanation(**overrides) -> Explanation:
    fields = {
        "method": "kernel",
        "params": {"nsamples": 14},
        "output_space": "probability",
        "values": [[0.1, 0.2, -0.05], [0.0, -0.3, 0.1]],
        "base_values": [0.5, 0.5],
        "predictions": [0.75, 0.3],
        "explained_class": [1, 1],
        "device": "cpu",
        "versions": {"numpy": np.__version__},
        "compute_seconds": 0.01,
    }
    return Explanation(**(fields | overrides))


def test_additivity_error_is_per_row():
    result = explanation()

    assert np.allclose(result.additivity_error, [0.0, 0.0])
    assert np.allclose(explanation(predictions=[0.8, 0.1]).additivity_error, [0.05, 0.2])
    assert result.values.dtype == np.float64 and result.explained_class.dtype == np.int64


def test_explanation_is_immutable_and_checked():
    result = explanation()

    with pytest.raises(ValueError, match="read-only"):
        result.values[0, 0] = 1.0
    with pytest.raises(ValueError, match=r"base_values must have shape \(2,\)"):
        explanation(base_values=[0.5])
    with pytest.raises(ValueError, match="output_space 'odds'"):
        explanation(output_space="odds")
    assert json.loads(json.dumps(result.meta))["params"] == {"nsamples": 14}


def test_make_explainer_builds_each_method():
    import xgboost as xgb

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    booster = xgb.train({"objective": "binary:logistic", "seed": 0}, xgb.DMatrix(X, label=y), 5)

    def predict(rows):
        return booster.predict(xgb.DMatrix(rows))

    tree = make_explainer("tree", model=booster, background=None)
    kernel = make_explainer("kernel", model=predict, background=X[:10], nsamples="exact")

    assert isinstance(tree, TreeExplainer) and tree.method == "tree"
    assert isinstance(kernel, KernelExplainer) and kernel.exact
    # The same model explained two ways: both attribute the same prediction, in their spaces.
    by_tree, by_kernel = tree.explain(X[:3]), kernel.explain(X[:3])
    assert np.allclose(1 / (1 + np.exp(-by_tree.predictions)), by_kernel.predictions, atol=1e-6)


def test_unknown_method_and_framework_are_refused():
    with pytest.raises(ValueError, match="unknown explanation method 'lime'.*tree, linear, deep"):
        make_explainer("lime", model=None, background=None)
    with pytest.raises(ValueError, match="no default explanation method for framework 'torch'"):
        auto_method("torch")
    assert auto_method("xgboost") == "tree"
    assert auto_method("lightgbm") == "tree"
    assert auto_method("keras") == "deep"
    assert auto_method("external") == "supplied"


def test_a_model_agnostic_default_is_exact_up_to_twelve_columns_then_permutation():
    assert auto_method("onnx", n_columns=12) == "exact"
    assert auto_method("onnx", n_columns=13) == "permutation"
    assert auto_method("onnx", n_columns=64, is_image=True) == "partition"


def test_detect_devices_without_tensorflow():
    devices = detect_devices()

    assert set(devices) == {"xgboost_cuda", "tensorflow_gpus", "device"}
    assert devices["tensorflow_gpus"] == []
    assert isinstance(devices["xgboost_cuda"], bool)
    assert devices["device"] == "cpu" or devices["device"].startswith("cuda:0 ")


def test_library_versions_names_the_libraries():
    import shap
    import xgboost

    versions = library_versions()

    assert versions["shap"] == shap.__version__
    assert versions["xgboost"] == xgboost.__version__
    assert versions["numpy"] == np.__version__


def test_tree_path_never_imports_tensorflow():
    # A fresh interpreter, as the web process would be: explaining a tree model, detecting
    # devices and reading versions must leave TensorFlow (and Django) unloaded.
    script = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        import explanations.engine as engine
        after_import = sorted(m for m in ("tensorflow", "keras", "shap", "xgboost") if m in sys.modules)
        import xgboost as xgb
        X = np.random.default_rng(0).normal(size=(50, 3))
        booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, label=X[:, 0] > 0), 3)
        result = engine.make_explainer("tree", model=booster, background=None).explain(X[:4])
        engine.detect_devices()
        print(json.dumps({
            "after_import": after_import,
            "loaded": sorted(m for m in ("tensorflow", "keras", "django") if m in sys.modules),
            "versions": sorted(result.versions),
        }))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )

    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report == {
        "after_import": [],
        "loaded": [],
        "versions": ["numpy", "shap", "xgboost"],
    }
