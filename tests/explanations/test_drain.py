"""A drain task of a suspended version claims nothing: it fails what is left of the version."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from audit.services import Actor
from decisions.lifecycle import model_version_crashed
from explanations.drain import explanation_drain
from explanations.models import Explanation

pytestmark = pytest.mark.django_db


def test_a_suspended_version_is_never_claimed(credit_version, credit_trained, integration):
    payload = {
        "decisions": [
            {"model": "credit-risk", "subject_ref": "s-1", "features": credit_trained.sample_rows[0]}
        ]
    }
    response = integration.post(
        "/api/v1/decisions/bulk/", data=json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 201
    # Suspended after the decision was recorded, before its explanation was claimed.
    model_version_crashed(
        version_id=credit_version.pk, lost_batches=settings.MODEL_CRASH_LIMIT, actor=Actor.system("tests")
    )
    assert explanation_drain(model_version_id=credit_version.pk) == {"done": 0, "failed": 1, "batches": 0}
    assert list(Explanation.objects.values_list("status", "attempts", "error")) == [
        ("failed", 0, f"model version credit-risk@{credit_version.version} is suspended")
    ]
