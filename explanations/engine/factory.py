"""Build the explainer for a method name, and pick the default method for a framework."""

from __future__ import annotations

from typing import Any, Final

from .base import Explainer
from .deep import DeepExplainer
from .gradient import GradientExplainer
from .kernel import KernelExplainer
from .tree import TreeExplainer

__all__ = ["METHODS", "auto_method", "make_explainer"]

METHODS: Final = ("tree", "deep", "gradient", "kernel")
_AUTO_METHODS: Final = {"xgboost": "tree", "keras": "deep"}


def make_explainer(method: str, *, model: Any, background: Any, **params: Any) -> Explainer:
    """Build an explainer; params go to its constructor (e.g. nsamples, device, input_shape).

    For "kernel", `model` is the prediction function. Construction can take seconds (TensorFlow
    import, graph building): callers keep the result per model version.
    """
    if method == "tree":
        return TreeExplainer(model, background=background, **params)
    if method == "deep":
        return DeepExplainer(model, background, **params)
    if method == "gradient":
        return GradientExplainer(model, background, **params)
    if method == "kernel":
        return KernelExplainer(model, background, **params)
    raise ValueError(f"unknown explanation method {method!r}; expected one of {', '.join(METHODS)}")


def auto_method(framework: str) -> str:
    """The default (and most exact) method for a model framework: xgboost gives "tree"."""
    try:
        return _AUTO_METHODS[framework]
    except KeyError:
        raise ValueError(
            f"no default explanation method for framework {framework!r}; "
            f"known frameworks: {', '.join(sorted(_AUTO_METHODS))}"
        ) from None
