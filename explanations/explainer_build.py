"""Which explainer a model version gets, and building it from the version's loaded predictor.

Plain Python, no Django: the worker (compute.py) and the registration checks' sandboxed process
(sandbox.py) build explainers the same way.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from decisions.predictors import Predictor

from .engine import Explainer, auto_method, make_explainer

__all__ = [
    "ADDITIVITY_TOLERANCE",
    "build_explainer",
    "output_space_of",
    "outputs_to_explain",
    "resolve_method",
]

# How far base value + attributions may be from the explained output, per method, scaled by
# max(1, |output|): every method but Deep and Gradient SHAP adds up by construction, so 1e-4
# leaves room for float32 models only. Deep SHAP's DeepLIFT rules are additive up to TensorFlow's
# float32 arithmetic; Gradient SHAP (expected gradients) is sampled and is additive only in
# expectation, so its check is a sanity bound.
ADDITIVITY_TOLERANCE: Final = {
    "tree": 1e-4,
    "linear": 1e-4,
    "exact": 1e-4,
    "permutation": 1e-4,
    "partition": 1e-4,
    "kernel": 1e-4,
    "deep": 1e-2,
    "gradient": 0.25,
}


def output_space_of(output: dict) -> str:
    """The space a model-agnostic explanation is in: a regression's score, else probabilities."""
    return "score" if output.get("type") == "regression" else "probability"


def resolve_method(explainer: str, predictor: Predictor, *, is_image: bool) -> str:
    """The version's chosen method, or for "auto" the most exact one its model has."""
    if explainer != "auto":
        return explainer
    return auto_method(
        predictor.framework, n_columns=predictor.n_columns, is_image=is_image, model=predictor.model
    )


def build_explainer(
    method: str, predictor: Predictor, background: np.ndarray, *, output: dict, threads: int = 0
) -> Explainer:
    """The engine explainer of `method` over this predictor's model. `threads` is for the tree
    libraries' batched calls (0: all cores)."""
    if method == "tree":
        if predictor.framework == "xgboost":
            # A private copy: the predictor's booster is tuned to one thread for the web's
            # single-row predictions, while a worker's batches use the cores it is given.
            booster = predictor.model.copy()
            booster.set_param({"nthread": threads})
            return make_explainer("tree", model=booster, background=background)
        params: dict[str, Any] = {"framework": predictor.framework}
        if predictor.framework == "lightgbm":
            params["num_threads"] = threads
        return make_explainer("tree", model=predictor.model, background=background, **params)
    if method == "linear":
        return make_explainer("linear", model=predictor.model, background=background)
    if method in ("deep", "gradient"):
        return make_explainer(
            method, model=predictor.model, background=background, input_shape=tuple(predictor.input_shape)
        )
    if method == "kernel":
        return make_explainer("kernel", model=predictor.predict_proba, background=background)
    if method == "partition":
        return make_explainer(
            "partition",
            model=predictor.predict_proba,
            background=background,
            input_shape=tuple(predictor.input_shape),
            output_space=output_space_of(output),
        )
    if method in ("exact", "permutation"):
        return make_explainer(
            method, model=predictor.predict_proba, background=background, output_space=output_space_of(output)
        )
    raise ValueError(f"method {method!r} is not computed by Rationale")


def outputs_to_explain(output: dict, outputs: np.ndarray) -> np.ndarray:
    """Per row, the output to explain: a binary model's positive class (the score), a
    multiclass model's decided class, a regression's only output."""
    n_rows = outputs.shape[0]
    if output["type"] == "binary":
        return np.ones(n_rows, dtype=np.int64)
    if output["type"] == "regression":
        return np.zeros(n_rows, dtype=np.int64)
    return outputs.argmax(axis=1).astype(np.int64)
