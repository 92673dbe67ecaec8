"""A decision whose explanation a real worker flags is referred after the fact, in the store's
transaction, when its version's rules ask for it: only those, and only then."""

from __future__ import annotations

import json

import pytest

from audit.models import Action, AuditEvent
from audit.services import Actor
from decisions.models import Decision
from decisions.referral import referral_rules_set
from explanations.claims import explanation_fail
from explanations.models import Explanation
from tests.services import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def record_and_explain(integration, rows, tag) -> list[str]:
    payload = {
        "decisions": [
            {"model": "credit-risk", "subject_ref": f"{tag}-{i}", "features": r} for i, r in enumerate(rows)
        ]
    }
    response = integration.post(
        "/api/v1/decisions/bulk/", data=json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 201
    ids = [d["id"] for d in response.json()["decisions"]]
    assert {d["status"] for d in response.json()["decisions"]} == {"final"}  # nothing known yet
    done = Explanation.objects.filter(decision_id__in=ids, status=Explanation.Status.DONE)
    wait_until(lambda: done.count() == len(ids), timeout=120, what="explanations done", state=done.count)
    return ids


def test_flagged_explanations_refer_their_decisions(worker, integration, credit_version, credit_trained):
    rows = credit_trained.sample_rows[:40]
    # The method's own bound (tree SHAP: 1e-4, scaled): the real model's explanations add up.
    referral_rules_set(
        version=credit_version, rules={"flagged_explanation": True}, actor=Actor.system("tests")
    )
    within = record_and_explain(integration, rows, "within")
    assert set(Decision.objects.filter(pk__in=within).values_list("status", flat=True)) == {"final"}
    # No tolerance at all: every explanation whose sum misses the score by any rounding is flagged.
    referral_rules_set(
        version=credit_version,
        rules={"flagged_explanation": {"additivity_tolerance": 0.0}, "deadline_hours": 10},
        actor=Actor.system("tests"),
    )
    strict = record_and_explain(integration, rows, "strict")
    errors = dict(
        Explanation.objects.filter(decision_id__in=strict).values_list("decision_id", "additivity_error")
    )
    inexact = {str(pk) for pk, error in errors.items() if error > 0}
    assert inexact, "some of the 40 sums should miss the score by a rounding error"
    referred = Decision.objects.filter(pk__in=strict, status="pending_review")
    assert {str(d.pk) for d in referred} == inexact
    for d in referred:
        assert d.referral_reasons == ["flagged_explanation"]
        assert 0 < (d.review_due_at - d.decided_at).total_seconds() - 10 * 3600 < 300
    events = AuditEvent.objects.filter(action=Action.DECISION_REFERRED)
    assert {e.object_id for e in events} == inexact
    assert all(e.data["reasons"] == ["flagged_explanation"] for e in events)
    # The controller reading the decision now sees it waiting.
    one = next(iter(inexact))
    body = integration.get(f"/api/v1/decisions/{one}/").json()
    assert body["status"] == "pending_review" and body["referral"]["reasons"] == ["flagged_explanation"]


def test_a_decision_that_could_not_be_explained_is_referred(integration, credit_version, applicant):
    """explanation_fail (a worker gave up, or the version was suspended) refers the decision when
    the version's rules refer flagged explanations; without the rule it stays final."""
    referral_rules_set(
        version=credit_version, rules={"flagged_explanation": True}, actor=Actor.system("tests")
    )
    kept, referred = (
        integration.post(
            "/api/v1/decisions/",
            {"model": "credit-risk", "subject_ref": ref, "features": applicant},
            format="json",
        ).json()["id"]
        for ref in ("p-kept", "p-referred")
    )
    explanation = Explanation.objects.get(decision_id=referred)
    assert explanation_fail(ids=[explanation.pk], token=None, reason="the explainer crashed") == 1
    decision = Decision.objects.get(pk=referred)
    assert decision.status == "pending_review" and decision.referral_reasons == ["flagged_explanation"]
    assert AuditEvent.objects.filter(action=Action.DECISION_REFERRED, object_id=referred).count() == 1
    assert Decision.objects.get(pk=kept).status == "final"

    referral_rules_set(version=credit_version, rules={}, actor=Actor.system("tests"))
    other = integration.post(
        "/api/v1/decisions/",
        {"model": "credit-risk", "subject_ref": "p-unruled", "features": applicant},
        format="json",
    ).json()["id"]
    explanation_fail(ids=[Explanation.objects.get(decision_id=other).pk], token=None, reason="crashed")
    assert Decision.objects.get(pk=other).status == "final"
