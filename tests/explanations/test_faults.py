"""Crashes lose nothing: a killed worker and a stopped broker still end in exactly one result."""

import json
import time
from collections import Counter

import pytest

from audit.models import Action, AuditEvent
from decisions.models import Decision
from explanations.models import Explanation
from tests.services import wait_until

pytestmark = pytest.mark.integration

FAST_RECOVERY = {"EXPLAIN_STALE_SECONDS": "3", "EXPLAIN_SWEEP_SECONDS": "1"}


def statuses() -> dict:
    return dict(Counter(Explanation.objects.values_list("status", "attempts")))


def computed_events_per_explanation() -> Counter:
    return Counter(
        AuditEvent.objects.filter(action=Action.EXPLANATION_COMPUTED).values_list("object_id", flat=True)
    )


def test_worker_killed_mid_batch_loses_nothing(worker_factory, integration, credit_version, credit_trained):
    rows = (credit_trained.sample_rows * 12)[:2400]
    payload = {
        "decisions": [
            {"model": "credit-risk", "subject_ref": f"k-{i}", "features": r} for i, r in enumerate(rows)
        ]
    }
    assert (
        integration.post(
            "/api/v1/decisions/bulk/", data=json.dumps(payload), content_type="application/json"
        ).status_code
        == 201
    )
    first = worker_factory(env={"EXPLAIN_BATCH_SIZE": "400", **FAST_RECOVERY})
    # Kill it while a batch is claimed but not yet stored.
    wait_until(
        lambda: Explanation.objects.filter(status="running").exists(),
        timeout=60,
        interval=0.005,
        what="a batch in flight",
    )
    first.kill()
    killed_running = Explanation.objects.filter(status="running").count()
    done_before = Explanation.objects.filter(status="done").count()
    assert killed_running > 0 and done_before < 2400

    worker_factory(beat=True, env={"EXPLAIN_BATCH_SIZE": "400", **FAST_RECOVERY})
    wait_until(
        lambda: Explanation.objects.filter(status="done").count() == 2400,
        timeout=120,
        what="every explanation done after the crash",
        state=statuses,
    )
    assert not Explanation.objects.exclude(status="done").exists()
    # Exactly once in effect: one stored result and one audit event per explanation.
    events = computed_events_per_explanation()
    assert len(events) == 2400 and set(events.values()) == {1}
    assert Explanation.objects.filter(attempts__gte=2).count() >= killed_running


def test_broker_down_decisions_recorded_then_explained(
    worker_factory, integration, broker, credit_version, credit_trained
):
    worker_factory(beat=True, env=FAST_RECOVERY)
    broker.stop()
    try:
        started = time.monotonic()
        ids = []
        for i, row in enumerate(credit_trained.sample_rows[:10]):
            response = integration.post(
                "/api/v1/decisions/",
                data=json.dumps({"model": "credit-risk", "subject_ref": f"b-{i}", "features": row}),
                content_type="application/json",
            )
            assert response.status_code == 201
            assert response.json()["explanation"]["status"] == "pending"
            ids.append(response.json()["id"])
        # Each request gave up on the broker quickly instead of hanging.
        assert time.monotonic() - started < 30
        assert Decision.objects.count() == 10
        assert Explanation.objects.filter(status="pending").count() == 10
    finally:
        broker.start()
    wait_until(
        lambda: Explanation.objects.filter(status="done").count() == 10,
        timeout=90,
        what="explanations after the broker came back",
        state=statuses,
    )
    assert set(computed_events_per_explanation().values()) == {1}
