"""The access link a data subject receives with their decision."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import Action, AuditEvent
from decisions.models import Decision

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_decisions(integration, credit_version, credit_trained):
    rows = credit_trained.sample_rows[:2]
    payload = {
        "decisions": [
            {"model": "credit-risk", "subject_ref": f"p-{i}", "features": r} for i, r in enumerate(rows)
        ]
    }
    response = integration.post(
        "/api/v1/decisions/bulk/", data=json.dumps(payload), content_type="application/json"
    )
    return response.json()["decisions"]


def path_of(url: str) -> str:
    return url.split("127.0.0.1:8000", 1)[1]


def test_subject_sees_own_decision(client, two_decisions):
    mine = two_decisions[0]
    response = client.get(path_of(mine["subject_access_url"]), follow=True)
    assert response.redirect_chain == [(f"/access/decision/{mine['id']}/", 302)]
    assert response.status_code == 200
    page = response.content.decode()
    assert mine["outcome"] in page and "Demo Bank" in page
    assert "no-store" in response["Cache-Control"] and response["Referrer-Policy"] == "same-origin"
    event = AuditEvent.objects.get(action=Action.DECISION_VIEWED)
    assert event.object_id == mine["id"] and event.actor_type == "subject"


def test_one_token_never_reaches_another_decision(client, two_decisions):
    first, second = two_decisions
    page = client.get(path_of(first["subject_access_url"]), follow=True).content.decode()
    assert first["id"] in page and second["id"] not in page


@pytest.mark.parametrize("how", ["wrong", "expired", "revoked"])
def test_bad_tokens_are_refused(client, two_decisions, how):
    url = path_of(two_decisions[0]["subject_access_url"])
    if how == "wrong":
        url = url[:-5] + "xxxx/"
    elif how == "expired":
        Decision.objects.filter(pk=two_decisions[0]["id"]).update(
            access_expires_at=timezone.now() - timedelta(seconds=1)
        )
    else:
        Decision.objects.filter(pk=two_decisions[0]["id"]).update(access_revoked_at=timezone.now())
    response = client.get(url)
    assert response.status_code == (404 if how == "wrong" else 410)
    assert not AuditEvent.objects.filter(action=Action.DECISION_VIEWED).exists()
