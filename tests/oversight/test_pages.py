"""Overview statistics, the drift page and the event timeline, with real values."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import Action, AuditEvent
from decisions.models import Decision
from explanations.models import Explanation
from oversight.selectors import version_overview
from tests.conftest import client_for
from tests.oversight.conftest import make_decision, make_explanation

pytestmark = pytest.mark.django_db


def test_overview_counts_outcomes_coverage_and_latency(credit_version, auditor):
    decisions = [
        make_decision(credit_version, features={"age_years": 30}, favourable=i < 3) for i in range(4)
    ]
    for d, seconds in zip(decisions[:3], (1.0, 2.0, 5.0), strict=True):
        make_explanation(d, {"age_years": 0.1}, seconds=seconds)
    stats = version_overview(credit_version)
    assert stats["outcomes"]["decisions"] == 4 and stats["outcomes"]["favourable_rate"] == 0.75
    assert [(o["outcome"], o["n"]) for o in stats["outcomes"]["outcomes"]] == [
        ("approved", 3),
        ("refused", 1),
    ]
    assert stats["explanations"]["coverage"] == 0.75
    assert stats["explanations"]["latency_p50_seconds"] == pytest.approx(2.0)
    assert stats["explanations"]["latency_p95_seconds"] == pytest.approx(2.0 + 0.9 * 3.0)
    assert stats["importance"]["features"][0]["feature"] == "age_years"
    text = client_for(auditor).get(f"/audit/versions/{credit_version.pk}/").content.decode()
    assert "3 / 4 (75.0%)" in text


def test_drift_page_draws_weekly_windows(credit_version, auditor):
    now = timezone.now()
    for week in range(3):
        for i in range(4):
            make_decision(
                credit_version,
                features={"age_years": 20 + 10 * week, "foreign_worker": "yes"},
                favourable=True,
                score=0.1 + 0.25 * i,
                decided_at=now - timedelta(weeks=week),
            )
    client = client_for(auditor)
    text = client.get(f"/audit/versions/{credit_version.pk}/drift/?feature=age_years").content.decode()
    assert text.count("<svg") == 6 and "<script" not in text
    assert "large" in text  # ages moved band by band: the PSI says so


def test_timeline_filters_and_pages(recorded, auditor):
    client = client_for(auditor)
    text = client.get("/audit/events/", {"action": Action.EXPLANATION_COMPUTED}).content.decode()
    assert text.count("explanation.computed") >= 8 and "decision.recorded</td>" not in text
    first_page = client.get("/audit/events/").context["page"]
    assert len(first_page.events) == min(50, AuditEvent.objects.count())
    ids = [e.id for e in first_page.events]
    assert ids == sorted(ids, reverse=True)
    if first_page.older_than:
        older = client.get("/audit/events/", {"before": first_page.older_than}).context["page"]
        assert older.events[0].id < ids[-1]
    one = Decision.objects.first()
    rows = client.get("/audit/events/", {"object_id": str(one.pk)}).context["page"].events
    assert [e.action for e in rows] == [Action.DECISION_RECORDED]
    assert Explanation.objects.filter(status="done").count() == 8


def test_a_regression_scores_drift_bins_span_its_scores_not_a_probability(credit_version):
    from decisions.models import ModelVersion
    from oversight.drift import score_distribution

    ModelVersion.objects.filter(pk=credit_version.pk).update(
        output={
            "type": "regression",
            "threshold": 600,
            "favourable_when": "above",
            "class_labels": ["refused", "approved"],
        }
    )
    version = ModelVersion.objects.get(pk=credit_version.pk)
    for score in (500.0, 550.0, 600.0, 650.0, 700.0):
        make_decision(version, features={"age_years": 30}, favourable=score >= 600, score=score)
    distribution = score_distribution(version)
    assert distribution.bins[0] == "500-520" and distribution.bins[-1] == "680-700"
    (window,) = distribution.windows
    assert window.shares == [0.2, 0, 0.2, 0, 0, 0.2, 0, 0.2, 0, 0.2]
