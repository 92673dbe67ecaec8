"""The asynchronous path for real: API -> PostgreSQL -> Redis -> Celery worker -> SHAP -> store."""

import json

import numpy as np
import pytest
import shap
import xgboost as xgb

from audit.chain import verify_chain
from audit.models import Action, AuditEvent
from decisions.models import ModelVersion
from decisions.schema import FeatureSchema
from explanations.models import Explanation
from tests.conftest import client_for
from tests.services import wait_until

pytestmark = pytest.mark.integration


def post_bulk(client, model: str, rows: list[dict], prefix: str = "s") -> list[dict]:
    payload = {
        "decisions": [
            {"model": model, "subject_ref": f"{prefix}-{i}", "features": r} for i, r in enumerate(rows)
        ]
    }
    response = client.post(
        "/api/v1/decisions/bulk/", data=json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return response.json()["decisions"]


def all_finished(n: int):
    return lambda: Explanation.objects.filter(status__in=["done", "failed"]).count() >= n


def booster_of(version: ModelVersion) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(bytearray(bytes(version.artifact)))
    return booster


def test_credit_explanations_are_exact_and_reproducible(
    worker, integration, credit_version, credit_trained, auditor
):
    rows = credit_trained.sample_rows[:60]
    created = post_bulk(integration, "credit-risk", rows)
    wait_until(all_finished(60), timeout=60, what="60 explanations")
    by_decision = {str(e.decision_id): e for e in Explanation.objects.all()}
    explanations = [by_decision[d["id"]] for d in created]
    assert {e.status for e in explanations} == {"done"}, worker.log()[-2000:]

    schema = FeatureSchema.from_dict(credit_version.feature_schema)
    X = schema.encode(rows)
    booster = booster_of(credit_version)
    reference = shap.TreeExplainer(booster).shap_values(X)
    raw = np.array([e.raw_values for e in explanations])
    np.testing.assert_allclose(raw, reference, atol=1e-5)
    margin = booster.predict(xgb.DMatrix(X), output_margin=True)
    base = np.array([e.base_value for e in explanations])
    assert np.max(np.abs(base + raw.sum(axis=1) - margin)) < 1e-4
    np.testing.assert_allclose([e.predicted_value for e in explanations], margin, atol=1e-5)

    first = explanations[0]
    assert first.method == "tree" and first.output_space == "log_odds" and first.explained_class == "approved"
    assert first.model_sha256 == credit_version.artifact_sha256
    assert first.background_sha256 == credit_version.background_sha256
    assert first.device == "cpu" and first.versions["xgboost"] == xgb.__version__ and "shap" in first.versions
    assert first.additivity_error < 1e-4 and first.attempts == 1 and first.finished_at >= first.started_at
    # One number per original feature (one-hot groups summed), read labelled with the person's value.
    assert sorted(first.contributions) == sorted(schema.names)
    assert [c["feature"] for c in first.labelled_contributions] == schema.names
    for feature, columns in schema.groups:
        c = next(c for c in first.labelled_contributions if c["feature"] == feature)
        assert c["contribution"] == first.contributions[feature]
        assert c["contribution"] == pytest.approx(raw[0, columns].sum(), abs=1e-9)
        assert c["label"] == schema[feature].label and c["value"] == rows[0][feature]
    assert AuditEvent.objects.filter(action=Action.EXPLANATION_COMPUTED).count() == 60

    # The API gives everything, and an auditor's recompute is bit-exact.
    body = integration.get(f"/api/v1/decisions/{created[0]['id']}/explanation/").json()
    assert body["status"] == "done" and body["base_value"] == first.base_value
    assert body["contributions"] == first.labelled_contributions and body["reasons"]
    recompute = client_for(auditor).post(f"/api/v1/decisions/{created[0]['id']}/explanation/recompute/")
    assert recompute.json()["identical"] is True and recompute.json()["max_abs_difference"] == 0.0
    assert integration.post(f"/api/v1/decisions/{created[0]['id']}/explanation/recompute/").status_code == 403

    importance = integration.get(
        f"/api/v1/models/credit-risk/versions/{credit_version.version}/importance/"
    ).json()
    assert importance["explained_decisions"] == 60
    top = importance["features"][0]
    expected = np.mean(
        [
            abs(value)
            for e in explanations
            for feature, value in e.contributions.items()
            if feature == top["feature"]
        ]
    )
    assert top["mean_abs_contribution"] == pytest.approx(expected)
    assert verify_chain().ok


def test_a_backlog_is_shared_by_every_free_worker_process(
    worker_factory, integration, credit_version, credit_trained
):
    rows = credit_trained.sample_rows
    n = 1200
    post_bulk(integration, "credit-risk", [rows[i % len(rows)] for i in range(n)], prefix="backlog")
    # One drain task waits for the whole backlog; the worker starts after it was published.
    worker = worker_factory(concurrency=2, env={"EXPLAIN_BATCH_SIZE": "32", "EXPLAIN_THREADS": "1"})
    wait_until(all_finished(n), timeout=120, what=f"{n} explanations")

    explanations = list(Explanation.objects.values_list("status", "attempts", "worker"))
    assert len(explanations) == n
    assert {(status, attempts) for status, attempts, _ in explanations} == {("done", 1)}, worker.log()[-2000:]
    processes = {w.split("/")[0] for _, _, w in explanations}
    assert len(processes) == 2, worker.log()[-2000:]


def test_digit_explanations_use_deep_shap_and_add_up(worker, integration, digits_version, digits_trained):
    rows = digits_trained.sample_rows[:6]
    created = post_bulk(integration, "digit-reader", rows)
    wait_until(all_finished(6), timeout=120, what="digit explanations")
    for d in created:
        e = Explanation.objects.get(decision_id=d["id"])
        assert e.status == "done", e.error
        assert e.method == "deep" and e.output_space == "probability"
        assert e.explained_class == d["outcome"]
        assert len(e.raw_values) == 64 and e.additivity_error < 1e-4
        assert e.predicted_value == pytest.approx(d["score"], abs=1e-5)
        assert e.versions.get("tensorflow")


def test_tampered_artifact_fails_with_reason(worker_factory, integration, credit_version, credit_trained):
    created = post_bulk(integration, "credit-risk", credit_trained.sample_rows[:3])
    ModelVersion.objects.filter(pk=credit_version.pk).update(artifact=b"swapped model")
    worker_factory()
    wait_until(all_finished(3), timeout=60, what="failures")
    for d in created:
        e = Explanation.objects.get(decision_id=d["id"])
        assert e.status == "failed" and "does not match its recorded sha256" in e.error
    assert AuditEvent.objects.filter(action=Action.EXPLANATION_FAILED).count() == 3
