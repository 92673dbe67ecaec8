"""A version whose explaining kills worker processes is suspended after MODEL_CRASH_LIMIT lost
batches (not the worker pool): audited, its pending explanations failed with the reason, never
claimed again, refused for new decisions, while the same worker keeps explaining other models.

The deaths are real: the worker's pool process is SIGKILLed while it holds a claimed batch of
the version, as a model crashing native code would kill it. Crafted models that crash native
code are refused at registration now (tests/decisions/test_tree_structure.py), so the test kills
the process itself; everything after the death is the production path (Celery's pool, beat's
sweeper, the services).
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import replace

import pytest
from django.conf import settings

from audit.models import Action, AuditEvent
from decisions.models import ModelVersion
from explanations.models import Explanation
from tests.conftest import register
from tests.services import wait_until

pytestmark = pytest.mark.integration

# The sweeper every second, a claim stale after two: a lost batch is found within seconds.
FAST_RECOVERY = {"EXPLAIN_STALE_SECONDS": "2", "EXPLAIN_SWEEP_SECONDS": "1", "EXPLAIN_BATCH_SIZE": "1"}


def record(client, model: str, features: dict, ref: str):
    return client.post(
        "/api/v1/decisions/",
        data=json.dumps({"model": model, "subject_ref": ref, "features": features}),
        content_type="application/json",
    )


def claimed_by_live_process(version_id: int, killed: set[int]) -> int | None:
    """The pid of the pool process holding a claim on the version, once it holds one."""
    worker = (
        Explanation.objects.filter(model_version_id=version_id, status="running")
        .values_list("worker", flat=True)
        .first()
    )
    if not worker:
        return None
    pid = int(worker.split("/")[0].rsplit(":", 1)[1])
    return None if pid in killed else pid


def test_a_version_that_kills_its_workers_is_suspended_and_others_are_still_explained(
    worker_factory, integration, credit_trained
):
    # Permutation SHAP takes a good fraction of a second per row: long enough to find the
    # pool process holding the claim and kill it mid-batch.
    crashing = register(credit_trained, explainer="permutation")
    healthy = register(replace(credit_trained, name="credit-healthy"))
    assert (crashing.status, healthy.status) == ("active", "active")
    worker = worker_factory(beat=True, env=FAST_RECOVERY)
    rows = credit_trained.sample_rows
    assert record(integration, "credit-risk", rows[0], "crash-0").status_code == 201
    assert record(integration, "credit-risk", rows[1], "crash-1").status_code == 201

    killed: set[int] = set()
    for _ in range(settings.MODEL_CRASH_LIMIT):
        found: list[int] = []
        wait_until(
            lambda found=found: (
                found.append(claimed_by_live_process(crashing.pk, killed)) or found[-1] is not None
            ),
            timeout=60,
            interval=0.005,
            what="a pool process explaining the crashing version",
            state=lambda: worker.log()[-1500:],
        )
        pid = found[-1]
        assert pid != worker.process.pid  # a pool process, not the worker itself
        os.kill(pid, signal.SIGKILL)
        killed.add(pid)

    wait_until(
        lambda: ModelVersion.objects.get(pk=crashing.pk).status == "suspended",
        timeout=60,
        what="the version suspended",
        state=lambda: (ModelVersion.objects.get(pk=crashing.pk).crashes, worker.log()[-1500:]),
    )
    suspended = ModelVersion.objects.get(pk=crashing.pk)
    assert suspended.crashes == settings.MODEL_CRASH_LIMIT
    reason = (
        f"explaining credit-risk@{crashing.version} crashed worker processes {settings.MODEL_CRASH_LIMIT} "
        f"times (MODEL_CRASH_LIMIT is {settings.MODEL_CRASH_LIMIT})"
    )
    event = AuditEvent.objects.get(
        action=Action.MODEL_STATUS_CHANGED, object_type="model_version", object_id=str(crashing.pk)
    )
    assert event.data == {
        "status": "suspended",
        "previous": "active",
        "reason": reason,
        "crashes": settings.MODEL_CRASH_LIMIT,
    }
    # The batch claimed when the limit was reached, and whatever was still waiting, failed with
    # the reason (a decision explained between two crashes stays explained).
    left = list(
        Explanation.objects.filter(model_version_id=crashing.pk)
        .exclude(status="done")
        .values_list("status", "error")
    )
    assert left and set(left) == {("failed", f"model version suspended: {reason}")}

    refused = record(integration, "credit-risk", rows[2], "crash-2")
    assert refused.status_code == 409
    assert refused.json()["errors"] == {
        "model": "the default version of 'credit-risk' is suspended: explaining it crashed worker processes"
    }

    # The same worker (its main process never died) explains another model's decisions.
    response = record(integration, "credit-healthy", rows[3], "healthy-0")
    assert response.status_code == 201, response.content
    wait_until(
        lambda: Explanation.objects.filter(model_version_id=healthy.pk, status="done").count() == 1,
        timeout=60,
        what="the healthy version explained",
        state=lambda: worker.log()[-1500:],
    )
    assert worker.process.poll() is None
    assert not Explanation.objects.filter(
        model_version_id=crashing.pk, status__in=["pending", "running"]
    ).exists()
