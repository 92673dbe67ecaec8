"""Review before effect, per model version (AI Act Art. 14): how many of the model's decisions
its referral rules sent to a person, why, and how often the person changed the outcome."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from django.db.models import Count, Q
from django.utils import timezone

from decisions.models import Decision, ModelVersion


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def referral_statistics(version: ModelVersion, *, now: datetime | None = None) -> dict:
    """Referred of decided (the model's own decisions), by reason; of the referrals a person has
    decided, how many they confirmed and how many they changed; those still waiting."""
    now = now or timezone.now()
    decisions = Decision.objects.filter(model_version=version, kind=Decision.Kind.AUTOMATED)
    referred = decisions.exclude(referral_reasons=[])
    counts = decisions.aggregate(
        decisions=Count("id"),
        referred=Count("id", filter=~Q(referral_reasons=[])),
        pending=Count("id", filter=Q(status=Decision.Status.PENDING_REVIEW)),
        overdue=Count("id", filter=Q(status=Decision.Status.PENDING_REVIEW, review_due_at__lt=now)),
        changed=Count("id", filter=Q(status=Decision.Status.REPLACED)),
        confirmed=Count("id", filter=Q(status=Decision.Status.FINAL) & ~Q(referral_reasons=[])),
    )
    # A decision has one to four reasons; counted here, the same way on every database.
    by_reason = Counter(
        reason
        for reasons in referred.values_list("referral_reasons", flat=True).iterator(chunk_size=2000)
        for reason in reasons
    )
    reviewed = counts["confirmed"] + counts["changed"]
    return {
        **counts,
        "rules": version.referral_rules,
        "by_reason": dict(sorted(by_reason.items())),
        "referral_rate": _rate(counts["referred"], counts["decisions"]),
        "reviewed": reviewed,
        "changed_rate": _rate(counts["changed"], reviewed),
    }
