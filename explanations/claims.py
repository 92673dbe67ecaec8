"""Claims on pending explanations: a worker takes a micro-batch of one version (pending ->
running, with a claim of its own), hands it back on a transient failure, or fails it for good.

Exactly once in effect: a batch is claimed with a conditional UPDATE, results are stored only on
rows still holding that claim, and the sweeper returns rows whose worker died to pending. Tasks
may therefore run twice; rows never change twice.
"""

from __future__ import annotations

import os
import socket
import uuid

from django.db import transaction
from django.utils import timezone

from audit.models import Action
from audit.services import Actor, EventSpec, audit_record_many
from decisions.models import ModelVersion
from decisions.referral import referral_refer_flagged, referral_rules_of

from . import storage
from .models import Explanation

SYSTEM = Actor.system("explainer")


def claimant(token: str) -> str:
    """Who holds a claim: host and process, then the claim's own token. Read at each call:
    Celery imports this module before it forks its pool, so a value kept at import named the
    parent process for every child."""
    return f"{socket.gethostname()}:{os.getpid()}/{token}"


def explanation_claim_batch(*, model_version_id: int, limit: int) -> tuple[str, list[int]]:
    """Claim up to `limit` pending explanations of one version: (the claim's token, their ids).

    SKIP LOCKED lets several workers claim disjoint batches; the status condition in the UPDATE
    makes a claim idempotent even where row locks are not available (SQLite).
    """
    token = uuid.uuid4().hex
    return token, storage.claim(model_version_id=model_version_id, limit=limit, worker=claimant(token))


def explanation_release(*, ids: list[int], token: str) -> int:
    """Hand a claimed batch back (transient failure): running -> pending."""
    return Explanation.objects.filter(
        id__in=ids, worker=claimant(token), status=Explanation.Status.RUNNING
    ).update(status=Explanation.Status.PENDING, started_at=None)


def explanation_fail(*, ids: list[int], token: str | None, reason: str) -> int:
    """Terminal failure: mark failed with the reason and an audit event per row."""
    with transaction.atomic():
        qs = Explanation.objects.select_for_update().filter(
            id__in=ids, status__in=[Explanation.Status.RUNNING, Explanation.Status.PENDING]
        )
        if token is not None:
            qs = qs.filter(worker=claimant(token))
        failed = list(qs.values_list("id", "decision_id", "model_version_id"))
        now = timezone.now()
        Explanation.objects.filter(id__in=[i for i, _, _ in failed]).update(
            status=Explanation.Status.FAILED, error=reason[:2000], finished_at=now
        )
        if failed:
            audit_record_many(
                events=[
                    EventSpec(
                        SYSTEM,
                        Action.EXPLANATION_FAILED,
                        "explanation",
                        str(i),
                        {"decision": str(d), "reason": reason[:200]},
                    )
                    for i, d, _ in failed
                ]
                + _refer_unexplained(failed, now=now)
            )
    return len(failed)


def _refer_unexplained(failed: list[tuple], *, now) -> list[EventSpec]:
    """A decision that could not be explained has the most flagged explanation of all: a version
    whose rules refer flagged explanations refers it (decisions.referral)."""
    events: list[EventSpec] = []
    for version in ModelVersion.objects.filter(pk__in={v for _, _, v in failed}).only("pk"):
        if referral_rules_of(version).get("flagged_explanation"):
            decision_ids = [d for _, d, v in failed if v == version.pk]
            events += referral_refer_flagged(version=version, decision_ids=decision_ids, now=now)
    return events


def explanation_fail_version(*, model_version_id: int, reason: str) -> int:
    """Fail every pending or running explanation of a version (it was suspended): no worker
    claims them again."""
    ids = list(
        Explanation.objects.filter(
            model_version_id=model_version_id,
            status__in=[Explanation.Status.PENDING, Explanation.Status.RUNNING],
        ).values_list("id", flat=True)
    )
    return explanation_fail(ids=ids, token=None, reason=reason) if ids else 0
