"""An external scorer (a vendor's scorecard, a rules engine): registered without an artifact, its
decisions carry the controller's score and, optionally, its own contributions, checked for
additivity and labelled as supplied. Nothing is queued for a worker."""

from __future__ import annotations

import io
import json

import pytest

from audit.models import Action, AuditEvent
from decisions.models import Decision, ModelVersion
from explanations.models import Explanation

pytestmark = pytest.mark.django_db

SCHEMA = {
    "features": [
        {
            "name": "income",
            "label": "Monthly income",
            "type": "numeric",
            "minimum": 0,
            "maximum": 50000,
            "unit": "EUR",
        },
        {
            "name": "arrears",
            "label": "Months in arrears",
            "type": "numeric",
            "minimum": 0,
            "maximum": 60,
            "integer": True,
        },
    ]
}
OUTPUT = {
    "type": "regression",
    "threshold": 600,
    "favourable_when": "above",
    "class_labels": ["refused", "approved"],
    "score_meaning": "credit score in points",
}


@pytest.fixture
def scorecard(integration):
    response = integration.post(
        "/api/v1/models/",
        data={
            "name": "vendor-scorecard",
            "version": "2026.1",
            "framework": "external",
            "schema": json.dumps(SCHEMA),
            "output": json.dumps(OUTPUT),
            "texts": json.dumps({"controller": "Example Bank plc", "purpose": "credit"}),
        },
        format="multipart",
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "active" and body["is_default"] and body["checks"]["state"] == "passed"
    assert body["explainer"] == "supplied"
    return ModelVersion.objects.get(pk=body["id"])


def decide(client, **fields):
    item = {"model": "vendor-scorecard", "subject_ref": "p-1", "features": {"income": 2400, "arrears": 2}}
    item.update(fields)
    return client.post("/api/v1/decisions/", data=item, format="json")


def test_a_supplied_explanation_is_stored_done_and_labelled(scorecard, integration):
    response = decide(
        integration, score=642.5, base_value=600.0, contributions={"income": 55.0, "arrears": -12.5}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["outcome"] == "approved" and body["favourable"] is True and body["score"] == 642.5
    assert body["explanation"]["status"] == "done"
    explanation = Explanation.objects.get(decision_id=body["id"])
    assert explanation.status == "done" and explanation.method == "supplied"
    assert explanation.params["source"] == "supplied by the controller's external scorer"
    assert explanation.output_space == "score" and explanation.base_value == 600.0
    assert explanation.contributions == {"income": 55.0, "arrears": -12.5}
    assert explanation.additivity_error == pytest.approx(0.0)
    read = integration.get(f"/api/v1/decisions/{body['id']}/explanation/")
    assert read.status_code == 200 and read.json()["method"] == "supplied"


def test_contributions_that_do_not_add_up_are_refused_and_nothing_recorded(scorecard, integration):
    response = decide(
        integration, score=642.5, base_value=600.0, contributions={"income": 55.0, "arrears": -2.5}
    )
    assert response.status_code == 400
    assert "must add up" in response.json()["errors"]["contributions"]
    response = decide(integration, score=642.5, base_value=600.0, contributions={"salary": 42.5})
    assert (
        response.status_code == 400
        and "unknown features ['salary']" in response.json()["errors"]["contributions"]
    )
    response = decide(integration)
    assert response.status_code == 400 and "is required" in response.json()["errors"]["score"]
    assert Decision.objects.count() == 0
    assert not AuditEvent.objects.filter(action=Action.DECISION_RECORDED).exists()


def test_a_score_without_contributions_is_recorded_with_its_explanation_marked_unavailable(
    scorecard, integration
):
    response = decide(integration, score=580)
    assert response.status_code == 201 and response.json()["outcome"] == "refused"
    assert response.json()["explanation"]["status"] == "failed"
    explanation = Explanation.objects.get(decision_id=response.json()["id"])
    assert explanation.status == "failed" and "supplied no per-feature reasons" in explanation.error


def test_a_model_rationale_runs_takes_no_score(integration, credit_version, applicant):
    response = integration.post(
        "/api/v1/decisions/",
        data={"model": "credit-risk", "subject_ref": "p", "features": applicant, "score": 0.9},
        format="json",
    )
    assert response.status_code == 400
    assert "only for external scorers" in response.json()["errors"]["score"]


def test_an_external_scorer_with_an_artifact_is_refused(integration):
    response = integration.post(
        "/api/v1/models/",
        data={
            "name": "vendor-scorecard",
            "version": "x",
            "framework": "external",
            "artifact": io.BytesIO(b"weights"),
            "schema": json.dumps(SCHEMA),
            "output": json.dumps(OUTPUT),
        },
        format="multipart",
    )
    assert response.status_code == 400 and "send no artifact" in response.json()["errors"]["artifact"]
