"""The result of training a demo model: everything `seed_demo` needs to register a version."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class TrainedModel:
    name: str
    version: str
    framework: str  # "xgboost" | "keras"
    artifact: bytes
    schema: dict
    output: dict
    background: np.ndarray  # float64, (rows, model columns), encoded like the schema encodes
    training: dict
    subject_texts: dict
    explainer: str  # "tree" | "deep"
    sample_rows: list[dict] = field(default_factory=list)
