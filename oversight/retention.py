"""Retention: erase personal data once a model version's retention period has passed.

What goes: the decision's input features, what restates them inside its explanations (the
per-column `raw_values`, counterfactuals; contributions are stored without the person's values)
and what the subject wrote in review requests (reviews.services.requests). What stays: the decision
skeleton (ids, model version, score, outcome, times, `features_commitment`), the per-feature
contribution numbers that aggregate statistics read, and the audit chain, which holds only ids
and hashes and therefore still verifies. The commitment's key goes with the features, so the
commitment kept on the decision and in its audit events can no longer be recomputed or tested
against guesses (decisions.commitments). Audit events written before keyed commitments existed
are append-only and keep the unsalted `features_sha256` they were written with.

A decision restricted on the person's request (oversight.erasure) is erased as soon as the AI Act's
six months of logs have passed (MIN_RETENTION_DAYS), even if its version keeps decisions longer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import Action
from audit.services import Actor, audit_record
from decisions.models import MIN_RETENTION_DAYS, Decision, ModelVersion
from explanations.models import Explanation
from reviews.services.requests import reviews_erase_personal_data

BATCH = 500


def retention_cutoff(version: ModelVersion, now: datetime) -> datetime:
    return now - timedelta(days=version.retention_days)


def _due(cutoff: datetime, now: datetime) -> Q:
    """Past the version's period, or restricted on request and past the legal minimum."""
    restricted_cutoff = now - timedelta(days=MIN_RETENTION_DAYS)
    return Q(decided_at__lt=cutoff) | Q(restricted_at__isnull=False, decided_at__lt=restricted_cutoff)


def erase_rows(*, decision_ids: list, now: datetime) -> tuple[int, int]:
    """Blank the decisions' personal data (locked by the caller): their features, what restates
    them in their explanations, what the subject wrote. Returns (explanations, review requests)."""
    # The key with the features: without it the commitment is a random-looking string.
    Decision.objects.filter(pk__in=decision_ids).update(
        features={}, features_key=None, personal_data_erased_at=now
    )
    # Contributions are numbers keyed by feature and stay; the person's values went with the
    # features above, and the raw column values and counterfactuals (which restate them) go.
    explanations = Explanation.objects.filter(decision_id__in=decision_ids).update(
        raw_values=[], counterfactuals=None
    )
    return explanations, reviews_erase_personal_data(decision_ids=decision_ids)


def retention_erase_expired(
    *, now: datetime | None = None, actor: Actor | None = None, batch_size: int = BATCH
) -> dict:
    """Erase every decision past its version's retention, in batches of one transaction each."""
    now = now or timezone.now()
    actor = actor or Actor.system("retention")
    total = {"decisions": 0, "explanations": 0, "review_requests": 0, "batches": 0}
    for version in ModelVersion.objects.only("id", "retention_days").order_by("id"):
        cutoff = retention_cutoff(version, now)
        while True:
            ids = list(
                Decision.objects.filter(
                    _due(cutoff, now), model_version_id=version.pk, personal_data_erased_at__isnull=True
                )
                .order_by("decided_at", "id")
                .values_list("id", flat=True)[:batch_size]
            )
            if not ids:
                break
            done = retention_erase_decisions(
                decision_ids=ids, model_version=version, cutoff=cutoff, now=now, actor=actor
            )
            for key in ("decisions", "explanations", "review_requests"):
                total[key] += done[key]
            total["batches"] += 1
    return total


def retention_erase_decisions(
    *, decision_ids: list, model_version: ModelVersion, cutoff: datetime, now: datetime, actor: Actor
) -> dict:
    """Erase one batch atomically, with one audit event naming every decision it erased."""
    with transaction.atomic():
        # Lock the rows and re-check the condition: a concurrent run erases each decision once.
        ids = list(
            Decision.objects.select_for_update()
            .filter(
                _due(cutoff, now),
                pk__in=decision_ids,
                model_version_id=model_version.pk,
                personal_data_erased_at__isnull=True,
            )
            .order_by("decided_at", "id")
            .values_list("id", flat=True)
        )
        if not ids:
            return {"decisions": 0, "explanations": 0, "review_requests": 0}
        explanations_erased, erased_requests = erase_rows(decision_ids=ids, now=now)
        audit_record(
            actor=actor,
            action=Action.PERSONAL_DATA_ERASED,
            object_type="model_version",
            object_id=model_version.pk,
            data={
                "retention_days": model_version.retention_days,
                "cutoff": cutoff.isoformat(),
                "decisions": [str(pk) for pk in ids],
                "explanations": explanations_erased,
                "review_requests": erased_requests,
            },
        )
    return {"decisions": len(ids), "explanations": explanations_erased, "review_requests": erased_requests}
