"""Predictor adapters, one module per framework: each loads a version's artifact and predicts
class probabilities from encoded rows. A new framework is one module here, one branch in
`load_predictor`, and its explainer in explanations/engine (docs/architecture.md)."""

from __future__ import annotations

from .base import ArtifactError, Outcome, Predictor, decide, dump_background, load_background, sha256
from .keras import KerasPredictor
from .xgboost import XGBoostPredictor

__all__ = [
    "ArtifactError",
    "KerasPredictor",
    "Outcome",
    "Predictor",
    "decide",
    "dump_background",
    "load_background",
    "load_predictor",
    "sha256",
    "XGBoostPredictor",
]


def load_predictor(framework: str, artifact: bytes, *, input_shape: list[int] | None = None) -> Predictor:
    if framework == "xgboost":
        return XGBoostPredictor(artifact)
    if framework == "keras":
        return KerasPredictor(artifact, input_shape)
    raise ArtifactError(f"unsupported framework {framework!r}")
