"""The auditor's referral figures equal the ledger's own counts: referred of decided, by reason,
and how often the person who reviewed a referral changed its outcome."""

from __future__ import annotations

import re

import pytest

from audit.services import Actor
from decisions.models import Decision
from decisions.recording import DecisionInput
from decisions.referral import referral_rules_set
from explanations.recording import decision_record_many
from reviews.services import casework
from reviews.services.referrals import referral_take
from tests.conftest import client_for
from tests.reviews.test_caseworker import RATIONALE

pytestmark = pytest.mark.django_db


def record(rows, tag):
    items = [
        DecisionInput(model="credit-risk", features=r, subject_ref=f"{tag}-{i}") for i, r in enumerate(rows)
    ]
    return [r.decision for r in decision_record_many(items=items, actor=Actor.system("tests"))]


def rules(version, value):
    referral_rules_set(version=version, rules=value, actor=Actor.system("tests"))


@pytest.fixture
def ledger(credit_version, credit_trained, caseworker):
    """Decisions of the real model: 6 not referred, 5 in the band, 3 in the band and sampled;
    one referral confirmed, two changed."""
    rows = credit_trained.sample_rows
    record(rows[:6], "plain")
    rules(credit_version, {"score_band": {"min": 0.0, "max": 1.0}})
    band = record(rows[6:11], "band")
    rules(credit_version, {"score_band": {"min": 0.0, "max": 1.0}, "sample_rate": 1.0})
    both = record(rows[11:14], "both")
    rules(credit_version, {})
    confirmed = referral_take(decision=band[0], user=caseworker)
    casework.review_uphold(request=confirmed, user=caseworker, rationale=RATIONALE)
    for decision in (band[1], both[0]):
        case = referral_take(decision=decision, user=caseworker)
        other = "approved" if decision.outcome == "refused" else "refused"
        casework.review_overturn(request=case, user=caseworker, new_outcome=other, rationale=RATIONALE)
    return credit_version


def test_the_figures_equal_the_ledgers_counts(ledger, auditor):
    figures = (
        client_for(auditor).get(f"/api/v1/audit/statistics/credit-risk/{ledger.version}/").json()["referrals"]
    )
    model = Decision.objects.filter(model_version=ledger, kind="automated")
    referred = [d for d in model if d.referral_reasons]
    assert figures["decisions"] == model.count() == 14
    assert figures["referred"] == len(referred) == 8
    assert figures["referral_rate"] == pytest.approx(8 / 14)
    assert (
        figures["by_reason"]
        == {
            "sample": sum("sample" in d.referral_reasons for d in referred),
            "score_band": sum("score_band" in d.referral_reasons for d in referred),
        }
        == {"sample": 3, "score_band": 8}
    )
    assert figures["changed"] == model.filter(status="replaced").count() == 2
    assert figures["confirmed"] == 1 and figures["reviewed"] == 3
    assert figures["changed_rate"] == pytest.approx(2 / 3)
    assert figures["pending"] == model.filter(status="pending_review").count() == 5
    assert figures["overdue"] == 0
    # People's decisions are not the model's: they are not counted as decided.
    assert Decision.objects.filter(model_version=ledger, kind="human").count() == 2


def test_the_overview_page_shows_them(ledger, auditor):
    page = re.sub(r"\s+", " ", client_for(auditor).get(f"/audit/versions/{ledger.pk}/").content.decode())
    assert 'id="referred">8 of 14 (57.1%)' in page
    assert 'id="referrals-changed">2 of 3 (66.7%)' in page
    assert 'id="referred-by-reason">sample: 3, score_band: 8' in page


def test_only_auditors_read_them(ledger, caseworker, nobody, integration):
    url = f"/api/v1/audit/statistics/credit-risk/{ledger.version}/"
    for client in (client_for(caseworker), client_for(nobody), integration):
        assert client.get(url).status_code == 403
    assert client_for(caseworker).get(f"/audit/versions/{ledger.pk}/").status_code == 403
