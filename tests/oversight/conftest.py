"""Fixtures of the auditor's workspace: decisions recorded through the API and explained by the
same service the worker runs, and hand-built ledgers whose figures can be computed by hand."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from decisions.commitments import features_commitment, features_key
from decisions.models import Decision
from explanations.models import Explanation


@pytest.fixture
def recorded(integration, credit_version, credit_trained):
    """Eight real applicants decided through the API, their explanations computed."""
    from explanations.drain import explanation_drain

    payload = {
        "decisions": [
            {"model": "credit-risk", "subject_ref": f"applicant-{i}", "features": row}
            for i, row in enumerate(credit_trained.sample_rows[:8])
        ]
    }
    response = integration.post(
        "/api/v1/decisions/bulk/", data=json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    explanation_drain(model_version_id=credit_version.pk)
    return credit_version


def make_decision(
    version, *, features: dict, favourable: bool, score: float = 0.5, decided_at=None
) -> Decision:
    """A ledger row with chosen values, for figures checked by hand."""
    now = timezone.now()
    key = features_key()
    return Decision.objects.create(
        model_version=version,
        subject_ref=f"hand-{uuid.uuid4().hex[:8]}",
        features=features,
        features_key=key,
        features_commitment=features_commitment(key=key, features=features),
        score=score,
        outcome="approved" if favourable else "refused",
        favourable=favourable,
        decided_at=decided_at or now,
        access_token_hash=uuid.uuid4().hex + uuid.uuid4().hex,
        access_expires_at=now + timedelta(days=365),
    )


def make_explanation(
    decision: Decision, contributions: dict[str, float], *, protected=(), seconds: float = 1.0
):
    queued = decision.decided_at
    return Explanation.objects.create(
        decision=decision,
        model_version_id=decision.model_version_id,
        status="done",
        method="tree",
        contributions=dict(contributions),
        raw_values=list(contributions.values()),
        base_value=0.1,
        queued_at=queued,
        finished_at=queued + timedelta(seconds=seconds),
    )
