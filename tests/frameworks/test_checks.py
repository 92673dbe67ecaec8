"""Registration you can trust: every new version is checked in a sandboxed process before it can
decide, and a version that fails is rejected with every reason named, nothing activated."""

from __future__ import annotations

import io
import json
import pickle

import numpy as np
import pytest
import xgboost as xgb
from sklearn.datasets import load_breast_cancer

from decisions.models import DecisionModel, ModelVersion
from explanations.sweeper import explanations_sweep
from tests.frameworks.bring import bring, identifiers, numeric_schema
from tests.services import wait_until

OUTPUT = {
    "type": "binary",
    "class_labels": ["malignant", "benign"],
    "favourable_label": "benign",
    "threshold": 0.5,
}


@pytest.fixture(scope="module")
def tumours():
    data = load_breast_cancer()
    return identifiers(data.feature_names[:8]), data.data[:, :8], data.target


def corrupted_booster(X: np.ndarray, y: np.ndarray) -> bytes:
    """An XGBoost model whose first tree's child indices point far outside the tree: XGBoost
    would load it, and predicting with it would crash native code."""
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(X, y), 3)
    document = json.loads(bytes(booster.save_raw("json")))
    tree = document["learner"]["gradient_booster"]["model"]["trees"][0]
    tree["left_children"] = [c * 1_000_003 if c > 0 else c for c in tree["left_children"]]
    return json.dumps(document).encode()


@pytest.mark.django_db
def test_a_model_that_crashes_native_code_is_rejected_and_this_process_survives(tumours):
    names, X, y = tumours
    version = bring("tumours", "xgboost", corrupted_booster(X, y), names=names, X=X, output=OUTPUT)
    assert version.status == "rejected"
    assert version.checks["reasons"] == [
        "artifact: tree 0 of the XGBoost model is malformed: a child index points outside the tree"
    ]
    assert DecisionModel.objects.get(name="tumours").default_version_id is None


@pytest.mark.django_db
def test_a_pickle_is_refused_without_being_loaded(tumours, tmp_path):
    names, X, _ = tumours
    marker = tmp_path / "unpickled"
    # Unpickling this would create the marker file: it must never exist.
    artifact = pickle.dumps(Touch(str(marker)))
    version = bring("tumours", "sklearn", artifact, names=names, X=X, output=OUTPUT)
    assert version.status == "rejected"
    assert any("pickle" in reason for reason in version.checks["reasons"]), version.checks
    assert not marker.exists()


class Touch:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.integration
def test_checks_queued_through_the_api_run_on_a_worker_and_lost_ones_are_requeued(
    worker, integration, tumours
):
    names, X, y = tumours
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(X, y), 5)
    files = {
        "name": "tumours",
        "version": "1",
        "framework": "xgboost",
        "artifact": io.BytesIO(bytes(booster.save_raw("ubj"))),
        "background": io.BytesIO(_npy(X[:40])),
        "schema": json.dumps(numeric_schema(names, X)),
        "output": json.dumps(OUTPUT),
    }
    response = integration.post("/api/v1/models/", data=files, format="multipart")
    assert response.status_code == 202 and response.json()["checks"]["state"] == "pending"
    url = response["Location"]
    wait_until(lambda: integration.get(url).json()["checks"]["state"] != "pending", timeout=60, what="checks")
    body = integration.get(url).json()
    assert body["status"] == "active" and body["is_default"] and body["checks"]["report"]["method"] == "tree"

    # A check whose task was lost: the sweeper queues it again once it has waited too long.
    lost = bring(
        "tumours", "xgboost", bytes(booster.save_raw("ubj")), names=names, X=X, output=OUTPUT, version="2"
    )
    ModelVersion.objects.filter(pk=lost.pk).update(
        checks={"state": "pending", "reasons": [], "report": {}}, status="candidate"
    )
    assert explanations_sweep()["checks_requeued"] == 0  # not lost yet: it may still be running
    ModelVersion.objects.filter(pk=lost.pk).update(updated_at="2000-01-01T00:00:00Z")
    assert explanations_sweep()["checks_requeued"] == 1
    wait_until(
        lambda: ModelVersion.objects.get(pk=lost.pk).checks["state"] == "passed",
        timeout=60,
        what="requeued checks",
    )


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array.astype(np.float64), allow_pickle=False)
    return buffer.getvalue()


@pytest.mark.django_db
def test_a_model_whose_explanation_does_not_add_up_is_rejected(tumours, tmp_path):
    """Deep SHAP's rules do not cover swish (x * sigmoid(x)): its attributions miss the output
    by far more than the tolerance, and the version must not decide with them."""
    import keras

    names, X, y = tumours
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    inputs = keras.Input((X.shape[1],))
    hidden = keras.layers.Dense(8, activation="swish")(keras.layers.Dense(8)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(hidden))
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(X, y, epochs=5, verbose=0)
    model.save(tmp_path / "swish.keras")
    version = bring(
        "tumours", "keras", (tmp_path / "swish.keras").read_bytes(), names=names, X=X, output=OUTPUT
    )
    assert version.status == "rejected", version.checks
    (reason,) = version.checks["reasons"]
    assert reason.startswith("additivity: base value + contributions differ from the model's output by up to")
    assert "the deep explanation of this model cannot be trusted" in reason
    assert version.checks["report"]["max_additivity_error"] > 0.01


def _joblib_file(X, y) -> bytes:
    import joblib
    from sklearn.linear_model import LogisticRegression

    buffer = io.BytesIO()
    joblib.dump(LogisticRegression(max_iter=500).fit(X, y), buffer)
    return buffer.getvalue()


def _untrusted_skops(X, y) -> bytes:
    import skops.io
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    return skops.io.dumps(
        make_pipeline(FunctionTransformer(np.log1p), LogisticRegression(max_iter=500)).fit(X, y)
    )


def _keras_with_lambda(X, y, tmp_path) -> bytes:
    import keras

    inputs = keras.Input((X.shape[1],))
    scaled = keras.layers.Lambda(lambda t: t / 100.0)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(scaled))
    model.save(tmp_path / "lambda.keras")
    return (tmp_path / "lambda.keras").read_bytes()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "framework, make, named",
    [
        ("sklearn", lambda X, y, tmp: _joblib_file(X, y), "joblib"),
        ("sklearn", lambda X, y, tmp: _untrusted_skops(X, y), "FunctionTransformer"),
        ("keras", _keras_with_lambda, "Lambda layer"),
    ],
)
def test_an_unsafe_artifact_is_rejected_with_its_reason_and_nothing_activated(
    tumours, tmp_path, framework, make, named
):
    names, X, y = tumours
    version = bring("tumours", framework, make(X, y, tmp_path), names=names, X=X, output=OUTPUT)
    assert version.status == "rejected"
    (reason,) = version.checks["reasons"]
    assert reason.startswith("artifact: ") and named in reason, reason
    assert "/tmp" not in reason and "Traceback" not in reason
    assert DecisionModel.objects.get(name="tumours").default_version_id is None


@pytest.mark.integration
def test_a_registration_while_the_broker_is_down_is_accepted_and_checked_later(
    transactional_db, integration, broker, tumours
):
    names, X, y = tumours
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(X, y), 5)
    files = {
        "name": "tumours",
        "version": "1",
        "framework": "xgboost",
        "artifact": io.BytesIO(bytes(booster.save_raw("ubj"))),
        "background": io.BytesIO(_npy(X[:40])),
        "schema": json.dumps(numeric_schema(names, X)),
        "output": json.dumps(OUTPUT),
    }
    broker.stop()
    try:
        response = integration.post("/api/v1/models/", data=files, format="multipart")
    finally:
        broker.start()
    assert response.status_code == 202 and response.json()["checks"]["state"] == "pending"
    # Its task was never published: once it has waited longer than a check may take, the
    # sweeper publishes it.
    ModelVersion.objects.filter(version="1").update(updated_at="2000-01-01T00:00:00Z")
    assert explanations_sweep()["checks_requeued"] == 1
