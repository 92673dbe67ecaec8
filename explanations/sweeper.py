"""The sweeper (run by beat): what a lost worker or broker left behind is picked up again."""

from __future__ import annotations

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import Actor
from decisions.lifecycle import crash_reason, model_version_crashed
from decisions.models import ModelVersion
from decisions.registration import CHECK_TASK

from .claims import explanation_fail, explanation_fail_version
from .models import Explanation
from .queue import explanation_enqueue
from .store import explanation_counterfactuals_batch

COUNTERFACTUALS_PER_SWEEP = 500
SWEEPER = Actor.system("sweeper")


def explanations_sweep() -> dict:
    """Count each stale claim (a batch whose worker process died, or hung, while explaining it)
    against its version, suspending a version at settings.MODEL_CRASH_LIMIT; return the other
    stale running rows to pending (or fail them after too many attempts), then re-enqueue every
    version not suspended that still has pending rows older than a few seconds."""
    now = timezone.now()
    stale_before = now - timezone.timedelta(seconds=settings.EXPLAIN_STALE_SECONDS)
    running = Explanation.objects.filter(status=Explanation.Status.RUNNING, started_at__lt=stale_before)
    with transaction.atomic():
        # Locked, counted and reset in one transaction: two sweeps never count a claim twice.
        claims = list(
            running.select_for_update(skip_locked=True).values_list(
                "id", "model_version_id", "worker", "attempts"
            )
        )
        suspended = _count_lost_batches(claims)
        exhausted = [
            pk
            for pk, v, _, attempts in claims
            if v not in suspended and attempts >= settings.EXPLAIN_MAX_ATTEMPTS
        ]
        failed = 0
        if exhausted:
            failed = explanation_fail(
                ids=exhausted,
                token=None,
                reason=f"gave up after {settings.EXPLAIN_MAX_ATTEMPTS} attempts (worker lost or timed out)",
            )
        reset = Explanation.objects.filter(
            id__in=[
                pk
                for pk, v, _, attempts in claims
                if v not in suspended and attempts < settings.EXPLAIN_MAX_ATTEMPTS
            ],
            status=Explanation.Status.RUNNING,
        ).update(status=Explanation.Status.PENDING, started_at=None)
        for version_id, reason in suspended.items():
            # Its pending and running rows too: no worker picks them up again.
            failed += explanation_fail_version(
                model_version_id=version_id, reason=f"model version suspended: {reason}"
            )
    pending = Explanation.objects.filter(status=Explanation.Status.PENDING)
    if not reset:
        # Rows a publisher has only just written are its own to enqueue.
        pending = pending.filter(queued_at__lt=now - timezone.timedelta(seconds=5))
    version_ids = sorted(
        set(
            pending.exclude(model_version__status=ModelVersion.Status.SUSPENDED)
            .values_list("model_version_id", flat=True)
            .distinct()
        )
    )
    enqueued = sum(explanation_enqueue(model_version_id=v) for v in version_ids)
    return {
        "reset": reset,
        "failed": failed,
        "suspended": len(suspended),
        "enqueued": enqueued,
        "counterfactuals": _sweep_counterfactuals(stale_before),
        "checks_requeued": _sweep_checks(now),
    }


def _count_lost_batches(claims: list[tuple]) -> dict[int, str]:
    """Each stale claim counted once against its version (a batch holds one claim token,
    however many rows); the versions this suspended, with the reason."""
    lost: dict[int, set[str]] = {}
    for _, version_id, worker, _ in claims:
        lost.setdefault(version_id, set()).add(worker)
    suspended = {}
    for version_id in sorted(lost):
        version = model_version_crashed(
            version_id=version_id, lost_batches=len(lost[version_id]), actor=SWEEPER
        )
        if version is not None and version.status == ModelVersion.Status.SUSPENDED:
            suspended[version_id] = crash_reason(version)
    return suspended


def _sweep_checks(now) -> int:
    """Registration checks whose task was lost (the broker was down at registration, or the
    worker died mid-check): queued again once they have waited longer than a check may take."""
    waited = now - timezone.timedelta(seconds=settings.MODEL_CHECK_TIMEOUT_SECONDS + 60)
    lost = list(
        ModelVersion.objects.filter(checks__state="pending", updated_at__lt=waited).values_list(
            "pk", flat=True
        )
    )
    for pk in lost:
        current_app.send_task(CHECK_TASK, kwargs={"model_version_id": pk})
    return len(lost)


def _sweep_counterfactuals(stale_before) -> int:
    """Counterfactual searches a worker did not get to (it died after storing explanations)."""
    left = list(
        Explanation.objects.filter(
            status=Explanation.Status.DONE,
            counterfactuals__isnull=True,
            finished_at__lt=stale_before,
            # Retention blanks counterfactuals with the inputs: nothing to search there.
            decision__personal_data_erased_at__isnull=True,
        )
        .order_by("id")
        .values_list("model_version_id", "id")[:COUNTERFACTUALS_PER_SWEEP]
    )
    by_version: dict[int, list[int]] = {}
    for version_id, pk in left:
        by_version.setdefault(version_id, []).append(pk)
    for version in ModelVersion.objects.select_related("model").filter(pk__in=by_version):
        explanation_counterfactuals_batch(version=version, ids=by_version[version.pk])
    return len(left)
