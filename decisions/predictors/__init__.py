"""Predictor adapters, one module per framework: each loads a version's artifact and gives the
model's outputs for encoded rows (class probabilities, or a regression's score). A new framework
is one module here, one branch in `load_predictor`, and its explainer in explanations/engine
(docs/architecture.md). Each adapter imports its library only when a model of it is loaded."""

from __future__ import annotations

from .base import ArtifactError, Outcome, Predictor, decide, dump_background, load_background, sha256
from .keras import KerasPredictor
from .lightgbm import LightGBMPredictor
from .onnx import OnnxPredictor
from .sklearn import SklearnPredictor
from .xgboost import XGBoostPredictor

__all__ = [
    "ArtifactError",
    "Outcome",
    "Predictor",
    "decide",
    "dump_background",
    "load_background",
    "load_predictor",
    "sha256",
]


def load_predictor(framework: str, artifact: bytes, *, input_shape: list[int] | None = None) -> Predictor:
    """The loaded model; ArtifactError naming the problem for anything that is not one."""
    if framework == "xgboost":
        return XGBoostPredictor(artifact)
    if framework == "keras":
        return KerasPredictor(artifact, input_shape)
    if framework == "sklearn":
        return SklearnPredictor(artifact)
    if framework == "lightgbm":
        return LightGBMPredictor(artifact)
    if framework == "onnx":
        return OnnxPredictor(artifact, input_shape)
    raise ArtifactError(f"unsupported framework {framework!r}")
