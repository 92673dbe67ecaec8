"""Build the explainer for a method name, and pick the default method for a model.

Each method's module imports its library (shap, xgboost, LightGBM, TensorFlow) only when an
explainer of it is built.
"""

from __future__ import annotations

from typing import Any, Final

from .base import Explainer
from .deep import DeepExplainer
from .exact import ExactExplainer
from .gradient import GradientExplainer
from .kernel import KernelExplainer
from .lightgbm_tree import LightGBMTreeExplainer
from .linear import LinearExplainer
from .partition import PartitionExplainer
from .permutation import PermutationExplainer
from .sklearn_support import sklearn_method
from .sklearn_tree import SklearnTreeExplainer
from .tree import TreeExplainer

__all__ = ["METHODS", "MODEL_AGNOSTIC_METHODS", "auto_method", "make_explainer"]

METHODS: Final = ("tree", "linear", "deep", "gradient", "exact", "permutation", "kernel", "partition")
# Methods that need nothing of a model but a prediction function (n, n_columns) -> (n, n_outputs).
MODEL_AGNOSTIC_METHODS: Final = frozenset({"exact", "permutation", "kernel", "partition"})
# Up to this many columns, the model-agnostic default is exact enumeration; above, permutation.
EXACT_MAX_COLUMNS: Final = 12


def make_explainer(method: str, *, model: Any, background: Any, **params: Any) -> Explainer:
    """Build an explainer; params go to its constructor (e.g. nsamples, device, input_shape).

    `model` is what the method needs of the model: an xgboost or LightGBM Booster or a
    scikit-learn estimator for "tree" (params["framework"] says which), a scikit-learn linear
    model or Pipeline for "linear", a Keras model for "deep" and "gradient", and for the
    model-agnostic methods the prediction function. Construction can take seconds: callers keep
    the result per model version.
    """
    if method == "tree":
        framework = params.pop("framework", "xgboost")
        if framework == "lightgbm":
            return LightGBMTreeExplainer(model, background=background, **params)
        if framework == "sklearn":
            return SklearnTreeExplainer(model, background=background, **params)
        return TreeExplainer(model, background=background, **params)
    if method == "linear":
        return LinearExplainer(model, background, **params)
    if method == "deep":
        return DeepExplainer(model, background, **params)
    if method == "gradient":
        return GradientExplainer(model, background, **params)
    if method == "exact":
        return ExactExplainer(model, background, **params)
    if method == "permutation":
        return PermutationExplainer(model, background, **params)
    if method == "partition":
        return PartitionExplainer(model, background, **params)
    if method == "kernel":
        return KernelExplainer(model, background, **params)
    raise ValueError(f"unknown explanation method {method!r}; expected one of {', '.join(METHODS)}")


def auto_method(framework: str, *, n_columns: int = 0, is_image: bool = False, model: Any = None) -> str:
    """The default (and most exact) method for a model: TreeSHAP for tree boosters, Linear SHAP
    or TreeSHAP for the scikit-learn models that have them, Deep SHAP for Keras, and for
    anything else exact enumeration up to EXACT_MAX_COLUMNS columns, permutation above, and
    Partition SHAP for images. "supplied" means the controller's scorer supplies its own."""
    if framework in ("xgboost", "lightgbm"):
        return "tree"
    if framework == "keras":
        return "deep"
    if framework == "external":
        return "supplied"
    if framework == "sklearn":
        method = sklearn_method(model)
        if method is not None:
            return method
    elif framework != "onnx":
        raise ValueError(
            f"no default explanation method for framework {framework!r}; "
            "known frameworks: external, keras, lightgbm, onnx, sklearn, xgboost"
        )
    if is_image:
        return "partition"
    return "exact" if n_columns <= EXACT_MAX_COLUMNS else "permutation"
