"""`Cache-Control: no-store` on every API response but the public ones (config.security): the
responses carry personal data, and an error echoes what was sent."""

import json

import pytest

from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_api_responses_are_never_stored(client, integration, credit_version, applicant, auditor, caseworker):
    body = {"model": "credit-risk", "subject_ref": "s-1", "features": applicant}
    created = integration.post("/api/v1/decisions/", data=json.dumps(body), content_type="application/json")
    pk = created.json()["id"]
    answers = {
        "record": created,
        "refused": integration.post("/api/v1/decisions/", data="{}", content_type="application/json"),
        "list": integration.get("/api/v1/decisions/"),
        "detail": client_for(caseworker).get(f"/api/v1/decisions/{pk}/"),
        "explanation": client_for(auditor).get(f"/api/v1/decisions/{pk}/explanation/"),
        "events": client_for(auditor).get("/api/v1/audit/events/"),
        "reviews": client_for(caseworker).get("/api/v1/reviews/"),
        "no such endpoint": integration.get("/api/v1/nothing-here/"),
        "anonymous": client.get("/api/v1/decisions/"),
    }
    assert {name: (r.status_code, r["Cache-Control"]) for name, r in answers.items()} == {
        "record": (201, "no-store"),
        "refused": (400, "no-store"),
        "list": (200, "no-store"),
        "detail": (200, "no-store"),
        "explanation": (200, "no-store"),
        "events": (200, "no-store"),
        "reviews": (200, "no-store"),
        "no such endpoint": (404, "no-store"),
        "anonymous": (401, "no-store"),
    }


def test_the_public_key_may_be_cached(client):
    response = client.get("/api/v1/audit/public-key")
    assert response.status_code == 200
    assert not response.has_header("Cache-Control")
