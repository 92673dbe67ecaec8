"""What every training script of docs/models.md shares: read a CSV as the schema's features,
encode it as Rationale will (decisions.schema.FeatureSchema), and write the background array.

Run the scripts from the repository root with PYTHONPATH=. so that `decisions.schema` (plain
Python, no Django) can be imported.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from decisions.schema import FeatureSchema

BACKGROUND_ROWS = 100


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("csv", help="the training data, with a header row")
    parser.add_argument("--target", required=True, help="the column the model predicts")
    parser.add_argument("--schema", required=True, help="the feature schema JSON (docs/schema.md)")
    parser.add_argument("--output", required=True, help="the output semantics JSON")
    parser.add_argument("--out", required=True, help="the folder to write the model and background.npy to")
    return parser.parse_args()


def load(args: argparse.Namespace) -> tuple[FeatureSchema, dict, list[dict], list[str]]:
    """(schema, output semantics, the CSV's rows as checked feature dicts, their target values)."""
    schema = FeatureSchema.from_dict(json.loads(Path(args.schema).read_text()))
    output = json.loads(Path(args.output).read_text())
    rows, targets = [], []
    with open(args.csv, newline="", encoding="utf-8") as fh:
        for line, raw in enumerate(csv.DictReader(fh), start=2):
            # A CSV holds text; the schema's numeric features are sent as numbers.
            features = {
                f.name: (float(raw[f.name]) if f.type == "numeric" else raw[f.name]) for f in schema.features
            }
            clean, errors = schema.validate(features)
            if errors:
                raise SystemExit(f"{args.csv} line {line}: {errors}")
            rows.append(clean)
            targets.append(raw[args.target])
    return schema, output, rows, targets


def class_indices(output: dict, targets: list[str]) -> np.ndarray:
    """A classifier's targets as positions in class_labels: the model's class order is the
    output semantics' order (a binary model's second column is class_labels[1])."""
    labels = output["class_labels"]
    unknown = sorted(set(targets) - set(labels))
    if unknown:
        raise SystemExit(f"target values {unknown} are not in class_labels {labels}")
    return np.array([labels.index(t) for t in targets], dtype=np.int64)


def split(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled (training, held-out) row indices, a fifth held out."""
    order = np.random.default_rng(seed).permutation(n)
    held = n // 5
    return order[held:], order[:held]


def save_background(out: Path, X_train: np.ndarray, seed: int = 0) -> Path:
    """BACKGROUND_ROWS training rows, already encoded: what the explainers compare a decision with."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(X_train), size=min(BACKGROUND_ROWS, len(X_train)), replace=False)
    path = out / "background.npy"
    np.save(path, np.asarray(X_train[rows], dtype=np.float64))
    return path
