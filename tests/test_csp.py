"""Which responses carry the Content-Security-Policy (config/security.py)."""

import json

import pytest

pytestmark = pytest.mark.django_db
HEADER = "Content-Security-Policy"


def test_pages_carry_the_policy(client):
    policy = client.get("/accounts/login/")[HEADER]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert "unsafe-inline" not in policy
    # Swagger UI's page alone may use an inline style.
    assert "style-src 'self' 'unsafe-inline'" in client.get("/api/docs/")[HEADER]


def test_the_json_api_carries_none_and_its_html_view_does(integration, credit_version, applicant):
    body = {"model": "credit-risk", "subject_ref": "csp", "features": applicant}
    recorded = integration.post("/api/v1/decisions/", data=json.dumps(body), content_type="application/json")
    assert recorded.status_code == 201 and HEADER not in recorded
    listed = integration.get("/api/v1/decisions/")
    assert listed.status_code == 200 and HEADER not in listed
    browsable = integration.get("/api/v1/decisions/", HTTP_ACCEPT="text/html")
    assert browsable.status_code == 200 and "default-src 'self'" in browsable[HEADER]
