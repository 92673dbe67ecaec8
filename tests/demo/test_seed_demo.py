"""What `seed_demo` leaves for the auditor: credit decisions that keep the three protected
attributes the model does not use, so that the fairness views still report all three and no
explanation weighs them; spread over the past weeks, so that drift has windows to compare; and
a second run changes none of it. (Registering and the counts of a second run:
tests/decisions/test_commands.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from decisions.models import Decision, ModelVersion
from decisions.registry import schema_of
from demo import credit
from demo.management.commands.seed_demo import SPREAD_WEEKS
from explanations.drain import explanation_drain
from explanations.models import Explanation
from oversight.drift import score_distribution
from oversight.fairness import attribution_share, fairness_report
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
PROTECTED = {
    "personal_status_sex": "Sex and marital status",
    "age_years": "Age",
    "foreign_worker": "Foreign worker",
}
CREDIT_DECISIONS = 40


@pytest.fixture
def seeded(tmp_path):
    args = ["--no-users", "--links-file", str(tmp_path / "links.txt")]
    args += ["--credit-decisions", str(CREDIT_DECISIONS), "--digit-decisions", "2"]
    call_command("seed_demo", *args)
    return ModelVersion.objects.get(model__name="credit-risk"), args


def test_the_fairness_views_report_all_three_protected_attributes_the_model_does_not_use(seeded, auditor):
    version, _ = seeded
    explanation_drain(model_version_id=version.pk)

    report = fairness_report(version)

    attributes = {a.feature: a for a in report["attributes"]}
    assert list(attributes) == list(PROTECTED)
    for name, attribute in attributes.items():
        # Every seeded decision recorded the attribute, so every one falls in one of its groups.
        assert attribute.label == PROTECTED[name]
        assert sum(g.n for g in attribute.groups) == CREDIT_DECISIONS
        assert len([g for g in attribute.groups if g.n]) >= 2
    # Not an input, so no explanation gives it any weight: never a reason.
    explained = Explanation.objects.filter(model_version=version, status="done")
    assert explained.count() == CREDIT_DECISIONS
    assert {tuple(sorted(e.contributions)) for e in explained} == {tuple(sorted(schema_of(version).names))}
    assert attribution_share(version).protected_abs == 0.0
    page = client_for(auditor).get(f"/audit/versions/{version.pk}/fairness/").content.decode()
    for name, label in PROTECTED.items():
        assert f'<h2 id="attribute-{name}">{label}' in page


def test_the_sample_decisions_span_the_past_weeks_and_a_second_run_moves_none(seeded):
    version, args = seeded
    decided = _decided_at(version)

    assert len(decided) == CREDIT_DECISIONS
    assert decided == sorted(decided)  # oldest first, as they would have come in
    assert timezone.now() - decided[0] > timedelta(weeks=SPREAD_WEEKS) * 0.95
    assert timezone.now() - decided[-1] < timedelta(days=1)
    assert len(score_distribution(version, window="week").windows) >= SPREAD_WEEKS
    call_command("seed_demo", *args)
    assert _decided_at(version) == decided


def _decided_at(version: ModelVersion) -> list:
    return list(
        Decision.objects.filter(model_version=version)
        .order_by("reference")
        .values_list("decided_at", flat=True)
    )


def test_the_demo_refers_the_decisions_near_the_cut_off_to_a_caseworker(seeded):
    version, _ = seeded
    assert version.referral_rules == credit.REFERRAL_RULES
    decisions = Decision.objects.filter(model_version=version)
    threshold = version.output["threshold"]
    near = {d.pk for d in decisions if abs(d.score - threshold) <= 0.05}
    assert near and {d.pk for d in decisions.filter(status="pending_review")} == near
    assert all(d.referral_reasons == ["score_band"] for d in decisions.filter(status="pending_review"))
