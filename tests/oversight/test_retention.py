"""Retention erases exactly the personal data past each version's period; the chain still verifies."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.chain import checkpoint_sign, verify_chain
from audit.models import Action, AuditEvent
from decisions.models import Decision, ModelVersion
from explanations.models import Explanation
from oversight.retention import retention_erase_expired

pytestmark = pytest.mark.django_db


def age(decisions, days: int) -> None:
    Decision.objects.filter(pk__in=[d.pk for d in decisions]).update(
        decided_at=timezone.now() - timedelta(days=days)
    )


def test_erases_only_decisions_past_retention_and_the_chain_still_verifies(recorded):
    checkpoint_sign()
    decisions = list(Decision.objects.order_by("id"))
    old, young = decisions[:3], decisions[3:]
    age(old, recorded.retention_days + 1)
    age(young[:1], recorded.retention_days - 1)
    before = {d.pk: (d.features_commitment, d.score, d.outcome, d.subject_ref) for d in decisions}
    contributions_before = {e.decision_id: e.contributions for e in Explanation.objects.all()}

    result = retention_erase_expired()

    assert result == {"decisions": 3, "explanations": 3, "review_requests": 0, "batches": 1}
    for d in Decision.objects.filter(pk__in=[d.pk for d in old]):
        assert d.features == {} and d.personal_data_erased_at is not None
        # The skeleton stays.
        assert (d.features_commitment, d.score, d.outcome, d.subject_ref) == before[d.pk]
        e = Explanation.objects.select_related("decision__model_version").get(decision=d)
        assert e.raw_values == [] and e.counterfactuals is None
        # What a reader sees: the numbers, with no value of the person's left to show.
        assert e.contributions == contributions_before[d.pk]
        assert {c["value"] for c in e.labelled_contributions} == {None}
        assert {c["display_value"] for c in e.labelled_contributions} == {None}
    for d in Decision.objects.filter(pk__in=[d.pk for d in young]):
        assert d.features and d.personal_data_erased_at is None
        e = Explanation.objects.select_related("decision__model_version").get(decision=d)
        assert len(e.raw_values) > 0 and all(c["value"] is not None for c in e.labelled_contributions)

    event = AuditEvent.objects.get(action=Action.PERSONAL_DATA_ERASED)
    assert sorted(event.data["decisions"]) == sorted(str(d.pk) for d in old)
    assert event.data["retention_days"] == recorded.retention_days
    result = verify_chain()
    assert result.ok, result.describe()
    assert retention_erase_expired()["decisions"] == 0  # nothing twice


def test_retention_follows_each_versions_own_period(recorded, credit_trained):
    from tests.conftest import register

    longer = register(credit_trained, version="2.0.0", retention_days=400)
    decision = Decision.objects.first()
    Decision.objects.filter(pk=decision.pk).update(
        model_version=longer, decided_at=timezone.now() - timedelta(days=300)
    )
    assert retention_erase_expired()["decisions"] == 0
    assert retention_erase_expired(now=timezone.now() + timedelta(days=101))["decisions"] == 1


def test_database_refuses_retention_under_six_months(recorded):
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=recorded.pk).update(retention_days=182)


def test_retention_is_a_periodic_job():
    from django.conf import settings

    assert (
        settings.CELERY_BEAT_SCHEDULE["erase-expired-personal-data"]["task"]
        == "audit.erase_expired_personal_data"
    )
