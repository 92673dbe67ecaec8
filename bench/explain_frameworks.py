"""bench/explain frameworks: explanations/s per framework, end to end against the same explainer
called directly, and one decision at a time for the 30-column ONNX model (permutation).

Each case is a model trained here on scikit-learn's bundled data (no download), registered through
`model_register` and its sandboxed checks (`model_version_check`), explained by its "auto"
method. No feature is mutable, so the counterfactual search has nothing to try. Per case, in
this process (no Celery), after a warm-up drain: N decisions recorded, then one
`explanation_drain` timed from its call to its return, and the same explainer instance
(`compute.explainer_for`) called on the same encoded rows and classes in batches of
--batch-size (the median of passes before and after the drain). bench/README.md says more.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import harness
import numpy as np

ACTOR_NAME = "bench"
BACKGROUND_ROWS = 100
SEED = 0

BINARY = {"type": "binary", "class_labels": ["malignant", "benign"], "threshold": 0.5}
REGRESSION = {"type": "regression", "class_labels": ["below 150", "150 or more"], "threshold": 150.0}


# ---------------------------------------------------------------------------- the models
def _xgboost(X: np.ndarray, y: np.ndarray) -> bytes:
    import xgboost as xgb

    params = {"objective": "binary:logistic", "max_depth": 4, "eta": 0.1, "seed": SEED, "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=100)
    return bytes(booster.save_raw("ubj"))


def _lightgbm(X: np.ndarray, y: np.ndarray) -> bytes:
    import lightgbm

    params = {"objective": "binary", "num_leaves": 15, "learning_rate": 0.1, "seed": SEED}
    params |= {"num_threads": 1, "verbose": -1}
    return (
        lightgbm.train(params, lightgbm.Dataset(X, label=y), num_boost_round=100).model_to_string().encode()
    )


def _sklearn_linear(X: np.ndarray, y: np.ndarray) -> bytes:
    import skops.io
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return skops.io.dumps(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y))


def _sklearn_tree(X: np.ndarray, y: np.ndarray) -> bytes:
    import skops.io
    from sklearn.ensemble import HistGradientBoostingRegressor

    return skops.io.dumps(HistGradientBoostingRegressor(max_iter=100, random_state=SEED).fit(X, y))


def _onnx_mlp(X: np.ndarray, y: np.ndarray) -> bytes:
    from skl2onnx import to_onnx
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    mlp = MLPClassifier((16,), max_iter=1000, random_state=SEED)
    model = make_pipeline(StandardScaler(), mlp).fit(X, y)
    return to_onnx(model, X[:1].astype(np.float32), options={"zipmap": False}).SerializeToString()


def _keras_mlp(X: np.ndarray, y: np.ndarray) -> bytes:
    import tempfile

    import keras

    keras.utils.set_random_seed(SEED)
    scale = keras.layers.Normalization()
    scale.adapt(X.astype(np.float32))
    layers = [keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2, activation="softmax")]
    model = keras.Sequential([keras.Input(shape=(X.shape[1],)), scale, *layers])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(X.astype(np.float32), y, epochs=30, batch_size=32, verbose=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        with open(path, "rb") as fh:
            return fh.read()


@dataclass(frozen=True)
class Case:
    name: str
    framework: str
    method: str  # what "auto" must resolve to
    dataset: str  # "breast_cancer" or "diabetes"
    columns: int  # the dataset's first columns used
    decisions: int  # recorded and drained at --scale 1
    train: Callable[[np.ndarray, np.ndarray], bytes]
    one_at_a_time: bool = False


CASES = (
    Case("xgboost", "xgboost", "tree", "breast_cancer", 30, 5000, _xgboost),
    Case("lightgbm", "lightgbm", "tree", "breast_cancer", 30, 5000, _lightgbm),
    Case("sklearn-linear", "sklearn", "linear", "breast_cancer", 30, 5000, _sklearn_linear),
    Case("sklearn-tree", "sklearn", "tree", "diabetes", 10, 5000, _sklearn_tree),
    Case("onnx-exact", "onnx", "exact", "breast_cancer", 6, 2000, _onnx_mlp),
    Case("onnx-permutation", "onnx", "permutation", "breast_cancer", 30, 512, _onnx_mlp, one_at_a_time=True),
    Case("keras", "keras", "deep", "breast_cancer", 30, 2000, _keras_mlp),
)
CASE_NAMES = tuple(c.name for c in CASES)


@dataclass
class Trained:
    case: Case
    artifact: bytes
    schema: dict
    output: dict
    background: np.ndarray
    rows: list[dict]  # held-out rows as request features, cycled to make N decisions


def train(case: Case) -> Trained:
    """The case's model on 70% of its data set; the other 30% are the decisions' rows."""
    from sklearn import datasets

    load = datasets.load_breast_cancer if case.dataset == "breast_cancer" else datasets.load_diabetes
    data = load()
    X, y = np.asarray(data.data[:, : case.columns], dtype=np.float64), np.asarray(data.target)
    names = [re.sub(r"\W+", "_", str(n)).strip("_") for n in data.feature_names[: case.columns]]
    order = np.random.default_rng(SEED).permutation(len(X))
    cut = int(0.7 * len(X))
    train_idx, held_out = np.sort(order[:cut]), np.sort(order[cut:])
    artifact = case.train(X[train_idx], y[train_idx])
    low, high = X.min(axis=0), X.max(axis=0)
    features = [
        {
            "name": name,
            "type": "numeric",
            "minimum": float(low[j]),
            "maximum": float(high[j]),
            "mutable": False,
        }
        for j, name in enumerate(names)
    ]
    return Trained(
        case=case,
        artifact=artifact,
        schema={"features": features},
        output=BINARY if case.dataset == "breast_cancer" else REGRESSION,
        background=np.ascontiguousarray(X[train_idx[:BACKGROUND_ROWS]]),
        rows=[{name: float(v) for name, v in zip(names, X[i], strict=True)} for i in held_out],
    )


# ---------------------------------------------------------------------------- the platform
def register(trained: Trained):
    """Register through the registry's service and run the sandboxed checks; a new name per run."""
    from audit.services import Actor
    from decisions.registration import model_register
    from explanations.vetting import model_version_check

    actor = Actor.system(ACTOR_NAME)
    version = model_register(
        name=f"bench-{trained.case.name}-{os.getpid()}",
        version="1",
        framework=trained.case.framework,
        artifact=trained.artifact,
        schema=trained.schema,
        output=trained.output,
        background=trained.background,
        actor=actor,
        queue_checks=False,
    )
    version = model_version_check(version_id=version.pk, actor=actor)
    if version.checks["state"] != "passed":
        raise RuntimeError(f"{version} failed its registration checks: {version.checks['reasons']}")
    return version


def record(model: str, rows: list[dict], n: int, tag: str, *, flush: bool = True) -> list:
    """Record n decisions through the ledger's service: explanations pending, tasks published
    (and flushed from Redis unless told not to: this process drains, no worker)."""
    from audit.services import Actor
    from decisions.recording import DecisionInput
    from explanations.recording import decision_record_many

    ids: list = []  # decision ids (UUIDs)
    for start in range(0, n, 1000):
        items = [
            DecisionInput(model=model, features=rows[i % len(rows)], subject_ref=f"bench-{tag}-{i:06d}")
            for i in range(start, min(n, start + 1000))
        ]
        ids += [r.decision.pk for r in decision_record_many(items=items, actor=Actor.system(ACTOR_NAME))]
    if flush:
        harness.redis_flush()
    return ids


def _stored(ids: list) -> dict:
    from django.db.models import Count, Max, Min, Q, Sum

    from explanations.models import Explanation

    return Explanation.objects.filter(decision_id__in=ids).aggregate(
        done=Count("id", filter=Q(status="done")),
        failed=Count("id", filter=Q(status="failed")),
        first_started=Min("started_at"),
        last_finished=Max("finished_at"),
        compute_ms=Sum("compute_ms"),
        max_additivity_error=Max("additivity_error"),
    )


def _encoded(version, features: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Rows encoded as the worker encodes them, and the classes it explains."""
    from decisions.registry import schema_of
    from explanations.compute import classes_to_explain

    X = schema_of(version).encode(features)
    return X, classes_to_explain(version, X)


def _direct_passes(explainer, X: np.ndarray, classes: np.ndarray, batch: int, most: int) -> list[float]:
    """Rows/s of each pass of the explainer over X in batches: `most` passes, or one once a pass
    takes over 5 s."""
    passes: list[float] = []
    while len(passes) < most:
        started = time.perf_counter()
        for s in range(0, len(X), batch):
            explainer.explain(X[s : s + batch], classes=classes[s : s + batch])
        elapsed = time.perf_counter() - started
        passes.append(round(len(X) / elapsed, 1))
        if elapsed > 5:
            break
    return passes


def bench_case(trained: Trained, args) -> dict:
    from decisions.models import ModelVersion
    from explanations.compute import explainer_for
    from explanations.drain import explanation_drain
    from explanations.models import Explanation

    case = trained.case
    started = time.perf_counter()
    version = register(trained)
    register_seconds = time.perf_counter() - started
    n = max(args.batch_size, int(case.decisions * args.scale))

    # Warm-up: a first drain builds (and caches) the explainer, as a worker's first batch does.
    record(version.model.name, trained.rows, 16, f"{case.name}-warm")
    started = time.perf_counter()
    explanation_drain(model_version_id=version.pk)
    first_drain_seconds = time.perf_counter() - started

    started = time.perf_counter()
    ids = record(version.model.name, trained.rows, n, case.name)
    record_seconds = time.perf_counter() - started

    # Direct passes bracket the drain (one before, up to two after), so that a shared host's
    # drift shows in them; the figure is their median.
    version = ModelVersion.objects.get(pk=version.pk)
    explainer = explainer_for(version)  # the instance the drain uses, built by the warm-up
    X, classes = _encoded(version, [trained.rows[i % len(trained.rows)] for i in range(n)])
    passes = _direct_passes(explainer, X, classes, args.batch_size, 1)
    load_before = harness.load_average()
    cpu = harness.cpu_seconds()
    started = time.perf_counter()
    counts = explanation_drain(model_version_id=version.pk)
    drain_seconds = time.perf_counter() - started
    cpu_used = harness.cpu_delta(cpu, harness.cpu_seconds(), n)
    passes += _direct_passes(explainer, X, classes, args.batch_size, 1 if passes[0] * 5 < n else 2)
    stored = _stored(ids)
    if stored["done"] != n:
        raise RuntimeError(f"{case.name}: {stored['done']} of {n} explained ({counts})")
    # The worker's order: the explanations' (decision ids are UUIDs, in no order).
    stored_rows = Explanation.objects.filter(decision_id__in=ids).order_by("id")
    features = stored_rows.values_list("decision__features", flat=True)
    if not np.array_equal(_encoded(version, list(features))[0], X):
        raise RuntimeError(f"{case.name}: the stored rows do not encode as the direct calls' rows")
    direct, end_to_end = float(np.median(passes)), n / drain_seconds
    db_span = (stored["last_finished"] - stored["first_started"]).total_seconds()
    report = {
        "framework": case.framework,
        "method": explainer.method,
        "output_space": explainer.output_space,
        "data": f"{case.dataset}, {X.shape[1]} columns, background {BACKGROUND_ROWS} rows",
        "explainer_params": explainer.params,
        "decisions": n,
        "load_before": load_before,
        "register_and_checks_s": round(register_seconds, 2),
        "first_drain_with_explainer_build_s": round(first_drain_seconds, 2),
        "recording_per_s": round(n / record_seconds, 1),
        "end_to_end_explanations_per_s": round(end_to_end, 1),
        "end_to_end_s": round(drain_seconds, 3),
        "db_first_started_to_last_finished_s": round(db_span, 3),
        "engine_compute_ms_per_explanation": round(stored["compute_ms"] / n, 4),
        "direct_explanations_per_s": round(direct, 1),
        "direct_passes_per_s": passes,
        "end_to_end_vs_direct": round(end_to_end / direct, 3),
        # What the platform adds around the engine, per explanation (the store thread overlaps
        # part of it with the next batch's compute).
        "platform_ms_per_explanation": round(1000 * (1 / end_to_end - 1 / direct), 4),
        "max_additivity_error": stored["max_additivity_error"],
        "cpu_ms_per_explanation": cpu_used,
    }
    if case.method != explainer.method:
        raise RuntimeError(f"{case.name}: auto chose {explainer.method}, expected {case.method}")
    if case.one_at_a_time:
        report["one_decision_at_a_time"] = one_at_a_time(version, explainer, trained, X, classes, args)
    return report


def one_at_a_time(version, explainer, trained: Trained, X, classes, args) -> dict:
    """Per-decision latency: the engine on one row, and one decision recorded then drained."""
    from django.db.models import F

    from explanations.drain import explanation_drain
    from explanations.models import Explanation

    k = min(args.latency_decisions, len(X))
    engine_ms = []
    for i in range(k):
        started = time.perf_counter()
        explainer.explain(X[i : i + 1], classes=classes[i : i + 1])
        engine_ms.append(1000 * (time.perf_counter() - started))

    wall_ms, ids = [], []
    for i in range(k):
        started = time.perf_counter()
        row = trained.rows[i % len(trained.rows)]
        ids += record(version.model.name, [row], 1, f"one-{i:04d}", flush=False)
        explanation_drain(model_version_id=version.pk)
        wall_ms.append(1000 * (time.perf_counter() - started))
    harness.redis_flush()
    stored = Explanation.objects.filter(decision_id__in=ids, status="done")
    lag = stored.annotate(lag=F("finished_at") - F("decision__decided_at")).values_list("lag", flat=True)
    db_ms = [1000 * d.total_seconds() for d in lag]
    if len(db_ms) != k:
        raise RuntimeError(f"one at a time: {len(db_ms)} of {k} explained")

    def p50_p99(values: list[float]) -> dict:
        return {k: round(v, 2) for k, v in harness.percentiles(values, points=(50, 99)).items()}

    return {
        "decisions": k,
        "engine_explain_one_row_ms": p50_p99(engine_ms),
        "decided_at_to_finished_at_ms": p50_p99(db_ms),
        "record_and_drain_wall_ms": p50_p99(wall_ms),
    }


def bench_frameworks(args) -> dict:
    from django.conf import settings

    from explanations.compute import freeze_after_loading
    from explanations.drain import store_thread_stop

    # The worker's settings for a backlog (bench drain's): full batches, no waiting.
    settings.EXPLAIN_BATCH_SIZE = args.batch_size
    settings.EXPLAIN_BATCH_WAIT_MS = 0
    names = args.frameworks.split(",") if args.frameworks else CASE_NAMES
    if unknown := sorted(set(names) - set(CASE_NAMES)):
        raise SystemExit(f"unknown case(s) {unknown}; choose from {', '.join(CASE_NAMES)}")
    # As a worker process starts (explanations/tasks.py): explainers, once built, leave the
    # garbage collector's generations.
    freeze_after_loading()
    report = {}
    try:
        for case in CASES:
            if case.name in names:
                harness.log(f"frameworks: {case.name}")
                report[case.name] = bench_case(train(case), args)
                harness.log(f"{case.name}: {report[case.name]}")
    finally:
        store_thread_stop()
    return report


def add_arguments(parser) -> None:
    names = ",".join(CASE_NAMES)
    parser.add_argument("--frameworks", help=f"frameworks: the cases, comma-separated ({names})")
    parser.add_argument("--scale", type=float, default=1.0, help="frameworks: times each case's decisions")
    parser.add_argument("--latency-decisions", type=int, default=200, help="frameworks: one at a time")


def create_database() -> None:
    """A migrated benchmark database without the demo models (which this bench does not use)."""
    harness.drop_database()
    harness.psql(f'CREATE DATABASE "{harness.DB_NAME}"')
    harness.manage("migrate", "--noinput", "-v", "0")
