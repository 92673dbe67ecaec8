"""Computing explanations in a worker process: the engine's explainer for a model version, built
once per process, and one engine call per batch.

TensorFlow is imported only for a Keras model. A failed Deep SHAP call can poison later gradient
lookups in the process, so such a process asks to be recycled after its task.
"""

from __future__ import annotations

import gc
import logging
import threading
from typing import Any

import numpy as np
from django.conf import settings

from decisions.models import ModelVersion
from decisions.predictors import load_background
from decisions.registry import predictor_for, schema_of

from .engine import ExplanationError, group_contributions
from .explainer_build import build_explainer, outputs_to_explain, resolve_method

logger = logging.getLogger(__name__)

_explainers: dict[tuple[int, str, str], Any] = {}
_explainers_lock = threading.Lock()
# Set in explanation worker processes (explanations.tasks): see freeze_after_loading.
_freeze_after_loading = False
_recycle = threading.Event()


def freeze_after_loading() -> None:
    """From now on, after this process builds an explainer, move every live object out of the
    garbage collector's generations (`gc.freeze`, after one full collection).

    The explainer, its model and the libraries its first use imported (xgboost with pandas, SciPy
    and scikit-learn; shap; TensorFlow for a Keras model) live as long as the process: hundreds
    of thousands of objects, which every full collection walked, long enough to show in a
    drain's throughput. For worker processes only: a test process that froze its objects would
    never free their garbage. config/wsgi.py does the same for web processes.
    """
    global _freeze_after_loading
    _freeze_after_loading = True


def _loaded() -> None:
    if _freeze_after_loading:
        gc.collect()
        gc.freeze()


def explainer_method(version: ModelVersion) -> str:
    """The version's method, "auto" resolved to the most exact one its model has."""
    if version.explainer != "auto":
        return version.explainer
    return resolve_method("auto", predictor_for(version), is_image=schema_of(version).is_image)


def explainer_for(version: ModelVersion):
    """The engine explainer of a model version, built once per worker process."""
    method = explainer_method(version)
    key = (version.pk, version.artifact_sha256, method)
    explainer = _explainers.get(key)
    if explainer is None:
        with _explainers_lock:
            explainer = _explainers.get(key)
            if explainer is None:
                explainer = build_explainer(
                    method,
                    predictor_for(version),
                    load_background(bytes(version.background)),
                    output=version.output,
                    threads=settings.EXPLAIN_THREADS,
                )
                _explainers[key] = explainer
                _loaded()
    return explainer


def _gradient_fallback_for(version: ModelVersion):
    explainer = build_explainer(
        "gradient", predictor_for(version), load_background(bytes(version.background)), output=version.output
    )
    with _explainers_lock:
        _explainers[(version.pk, version.artifact_sha256, explainer_method(version))] = explainer
        _loaded()
    return explainer


def forget_explainers() -> None:
    """Drop cached explainers (after a TensorFlow failure the process is recycled anyway)."""
    with _explainers_lock:
        _explainers.clear()


def classes_to_explain(version: ModelVersion, X: np.ndarray) -> np.ndarray:
    """Binary: the positive class (the score). Multiclass: the class the model decided.
    Regression: the score."""
    if version.output["type"] == "multiclass":
        return outputs_to_explain(version.output, predictor_for(version).predict_proba(X))
    return outputs_to_explain(version.output, np.zeros((X.shape[0], 1)))


def check_finite(result) -> None:
    """Refuse a result with NaN or infinity: it is no explanation, and JSON has no such numbers.

    Raised after the engine call, so the drain marks the batch failed with this reason instead of
    storing it or retrying it for ever.
    """
    for name in ("values", "base_values", "predictions"):
        bad = ~np.isfinite(np.asarray(getattr(result, name), dtype=np.float64))
        if bad.any():
            rows = sorted({int(i) for i in np.argwhere(bad)[:, 0]})
            raise ExplanationError(
                f"the explainer returned non-finite {name} for {len(rows)} of {len(result.values)} "
                f"rows (first in batch: row {rows[0]})"
            )


def explanation_compute(*, version: ModelVersion, features: list[dict]):
    """Run ONE engine call for the decisions' `features` (in batch order) and return
    (schema, engine result, per-feature matrix)."""
    schema = schema_of(version)
    X = schema.encode(features)
    explainer = explainer_for(version)
    classes = classes_to_explain(version, X)
    try:
        result = explainer.explain(X, classes=classes)
    except ExplanationError as exc:
        if explainer.method != "deep":
            raise
        # Deep SHAP met a layer it has no rule for (the engine left TensorFlow clean):
        # Gradient SHAP needs only gradients, so this version uses it from now on.
        logger.warning("Deep SHAP failed for %s (%s); falling back to Gradient SHAP", version, exc)
        explainer = _gradient_fallback_for(version)
        result = explainer.explain(X, classes=classes)
    check_finite(result)
    grouped = group_contributions(result.values, schema.groups)
    return schema, result, grouped


def is_tensorflow_error(exc: BaseException) -> bool:
    module = type(exc).__module__
    return module.startswith(("tensorflow", "keras", "tf_keras")) or "tensorflow" in repr(exc).lower()


def mark_process_for_recycling() -> None:
    """A failed DeepExplainer can poison later gradient lookups in this process: leave after the task."""
    forget_explainers()
    _recycle.set()


def process_needs_recycling() -> bool:
    return _recycle.is_set()
