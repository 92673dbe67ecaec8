"""Every decision body links to its explanation: the link opens that decision's explanation."""

import json

import pytest

pytestmark = pytest.mark.django_db


def test_the_explanation_link_in_each_body_opens_that_decisions_explanation(
    integration, credit_version, applicant
):
    created = integration.post(
        "/api/v1/decisions/",
        data=json.dumps({"model": "credit-risk", "subject_ref": "s-1", "features": applicant}),
        content_type="application/json",
    ).json()
    listed = integration.get("/api/v1/decisions/").json()["results"][0]
    detail = integration.get(f"/api/v1/decisions/{created['id']}/").json()
    links = {body["explanation"]["url"] for body in (created, listed, detail)}
    assert links == {f"/api/v1/decisions/{created['id']}/explanation/"}
    explanation = integration.get(links.pop()).json()
    assert explanation["decision"] == created["id"] and explanation["status"] == "pending"
