"""The sweeper (run by beat): what a lost worker or broker left behind is picked up again."""

from __future__ import annotations

from celery import current_app
from django.conf import settings
from django.utils import timezone

from decisions.models import ModelVersion
from decisions.registration import CHECK_TASK

from .claims import explanation_fail
from .models import Explanation
from .queue import explanation_enqueue
from .store import explanation_counterfactuals_batch

COUNTERFACTUALS_PER_SWEEP = 500


def explanations_sweep() -> dict:
    """Return stale running rows to pending (or fail them after too many attempts), then
    re-enqueue every version that still has pending rows older than a few seconds."""
    now = timezone.now()
    stale_before = now - timezone.timedelta(seconds=settings.EXPLAIN_STALE_SECONDS)
    running = Explanation.objects.filter(status=Explanation.Status.RUNNING, started_at__lt=stale_before)
    exhausted = list(running.filter(attempts__gte=settings.EXPLAIN_MAX_ATTEMPTS).values_list("id", flat=True))
    failed = 0
    if exhausted:
        failed = explanation_fail(
            ids=exhausted,
            token=None,
            reason=f"gave up after {settings.EXPLAIN_MAX_ATTEMPTS} attempts (worker lost or timed out)",
        )
    reset = running.filter(attempts__lt=settings.EXPLAIN_MAX_ATTEMPTS).update(
        status=Explanation.Status.PENDING, started_at=None
    )
    pending = Explanation.objects.filter(status=Explanation.Status.PENDING)
    if not reset:
        # Rows a publisher has only just written are its own to enqueue.
        pending = pending.filter(queued_at__lt=now - timezone.timedelta(seconds=5))
    version_ids = sorted(set(pending.values_list("model_version_id", flat=True).distinct()))
    enqueued = sum(explanation_enqueue(model_version_id=v) for v in version_ids)
    return {
        "reset": reset,
        "failed": failed,
        "enqueued": enqueued,
        "counterfactuals": _sweep_counterfactuals(stale_before),
        "checks_requeued": _sweep_checks(now),
    }


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
