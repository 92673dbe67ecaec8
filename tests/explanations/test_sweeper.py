"""The sweeper counts each lost batch (a stale claim) once against its version, however many
rows it held, and suspends the version at MODEL_CRASH_LIMIT: its explanations are failed with
the reason and it is not enqueued again."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from decisions.models import ModelVersion
from explanations.claims import explanation_claim_batch
from explanations.models import Explanation
from explanations.sweeper import explanations_sweep

pytestmark = pytest.mark.django_db


def record(integration, rows: list[dict]) -> None:
    # In a test transaction the publish after commit never runs: the rows stay pending.
    payload = {
        "decisions": [
            {"model": "credit-risk", "subject_ref": f"s-{i}", "features": r} for i, r in enumerate(rows)
        ]
    }
    response = integration.post(
        "/api/v1/decisions/bulk/", data=json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 201, response.content


def lose_claims(version: ModelVersion, *, batches: int, rows: int) -> None:
    """Claim batches as a worker process does, then let it "die": the claims are never stored
    nor released, and go stale."""
    for _ in range(batches):
        explanation_claim_batch(model_version_id=version.pk, limit=rows)
    Explanation.objects.filter(status="running").update(started_at="2000-01-01T00:00:00Z")


def test_each_lost_batch_counts_once_and_the_limit_suspends(credit_version, credit_trained, integration):
    record(integration, credit_trained.sample_rows[:8])
    lose_claims(credit_version, batches=2, rows=3)
    result = explanations_sweep()
    assert (result["reset"], result["suspended"]) == (6, 0)
    assert ModelVersion.objects.get(pk=credit_version.pk).crashes == 2
    assert explanations_sweep()["reset"] == 0  # nothing stale is left to count twice
    assert ModelVersion.objects.get(pk=credit_version.pk).crashes == 2

    lose_claims(credit_version, batches=settings.MODEL_CRASH_LIMIT - 2, rows=2)
    result = explanations_sweep()
    assert (result["reset"], result["suspended"], result["enqueued"]) == (0, 1, 0)
    version = ModelVersion.objects.get(pk=credit_version.pk)
    assert (version.status, version.crashes) == ("suspended", settings.MODEL_CRASH_LIMIT)
    reason = (
        f"model version suspended: explaining credit-risk@{version.version} crashed worker processes "
        f"{settings.MODEL_CRASH_LIMIT} times (MODEL_CRASH_LIMIT is {settings.MODEL_CRASH_LIMIT})"
    )
    assert list(Explanation.objects.values_list("status", "error").distinct()) == [("failed", reason)]
    assert Explanation.objects.count() == 8
