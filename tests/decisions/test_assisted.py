"""A decision a person took using the model's output (AI Act Art. 86): recorded with their outcome
beside the model's, told to the person as such, and kept out of the model's own statistics."""

from __future__ import annotations

import pytest

from audit.models import Action, AuditEvent
from decisions.models import Decision
from oversight.selectors import version_overview
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def post(client, applicant, **fields):
    item = {"model": "credit-risk", "subject_ref": "p-1", "features": applicant, **fields}
    return client.post("/api/v1/decisions/", data=item, format="json")


def test_an_assisted_decision_keeps_the_persons_outcome_beside_the_models(
    integration, credit_version, applicant
):
    model_says = post(integration, applicant).json()["outcome"]
    theirs = "refused" if model_says == "approved" else "approved"
    response = post(integration, applicant, assisted={"decided_by": "officer 4711", "outcome": theirs})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "assisted" and body["outcome"] == theirs
    assert body["assisted"] == {"decided_by": "officer 4711", "model_outcome": model_says}
    assert body["favourable"] is (theirs == "approved")
    stored = Decision.objects.get(pk=body["id"])
    assert stored.kind == "assisted" and stored.model_outcome == model_says
    event = AuditEvent.objects.get(action=Action.DECISION_RECORDED, object_id=body["id"])
    assert event.data["kind"] == "assisted" and event.data["model_outcome"] == model_says


@pytest.mark.parametrize(
    "assisted, message",
    [
        ({"decided_by": "officer 4711", "outcome": "maybe"}, "must be one of"),
        ({"decided_by": "", "outcome": "approved"}, "this field is required"),
        ({"outcome": "approved"}, "must be an object"),
        ("approved", "must be an object"),
    ],
)
def test_a_malformed_assisted_decision_is_refused_and_nothing_recorded(
    integration, credit_version, applicant, assisted, message
):
    response = post(integration, applicant, assisted=assisted)
    assert response.status_code == 400
    assert message in str(response.json()["errors"]["assisted"])
    assert Decision.objects.count() == 0


def test_the_person_is_told_a_person_decided_with_the_systems_output(integration, credit_version, applicant):
    body = post(integration, applicant, assisted={"decided_by": "officer 4711", "outcome": "refused"}).json()
    path = "/" + body["subject_access_url"].split("://", 1)[1].split("/", 1)[1]
    page = integration.get(path, follow=True).content.decode()
    assert "By a person at the organisation, who used an automated system" in page
    assert "without a person taking part" not in page
    assert "officer 4711" not in page  # the staff reference is the controller's, not the person's


def test_the_models_statistics_leave_assisted_decisions_out(integration, credit_version, applicant, auditor):
    model_says = post(integration, applicant).json()["outcome"]
    other = "refused" if model_says == "approved" else "approved"
    post(integration, applicant, assisted={"decided_by": "officer 1", "outcome": other})
    post(integration, applicant, assisted={"decided_by": "officer 2", "outcome": model_says})
    stats = version_overview(credit_version)
    assert stats["outcomes"]["decisions"] == 1
    assert stats["assisted"] == {"decisions": 2, "differed": 1, "followed": 1, "differed_rate": 0.5}
    page = client_for(auditor).get(f"/audit/versions/{credit_version.pk}/").content.decode()
    assert "Decisions people took with the model" in page and 'id="n-assisted">2<' in page
