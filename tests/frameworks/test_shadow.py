"""A candidate in shadow is scored and explained beside the default on live decisions, recorded
as shadow, never returned as the decision, and compared in an agreement report."""

from __future__ import annotations

import pytest

from audit.models import Action, AuditEvent
from decisions.models import Decision
from explanations.models import ShadowDecision
from tests.conftest import client_for, register
from tests.frameworks.bring import post_and_wait
from tests.services import wait_until

pytestmark = pytest.mark.integration


def test_a_shadow_version_scores_beside_the_default_without_deciding(
    worker, integration, credit_version, credit_trained, auditor, caseworker
):
    candidate = register(credit_trained, version="2.0.0")
    response = integration.post(
        "/api/v1/models/credit-risk/versions/2.0.0/shadow/", {"enabled": True}, format="json"
    )
    assert response.status_code == 200 and response.json()["shadow"] is True
    assert AuditEvent.objects.filter(action=Action.MODEL_SHADOW_CHANGED).count() == 1

    rows = credit_trained.sample_rows[:30]
    explanations = post_and_wait(integration, "credit-risk", rows)
    assert {e.status for e in explanations} == {"done"}
    wait_until(lambda: ShadowDecision.objects.count() == 30, timeout=60, what="30 shadow runs")

    # Every decision is the default's; the shadow's are only shadow runs.
    assert set(Decision.objects.values_list("model_version_id", flat=True)) == {credit_version.pk}
    listed = integration.get("/api/v1/decisions/?page_size=100").json()["results"]
    assert len(listed) == 30 and {d["model_version"] for d in listed} == {"1.0.0"}
    runs = {str(r.decision_id): r for r in ShadowDecision.objects.filter(model_version=candidate)}
    for explanation in explanations:
        run = runs[str(explanation.decision_id)]
        assert run.outcome == explanation.decision.outcome and run.score == explanation.decision.score
        assert run.method == "tree"
        assert run.contributions == pytest.approx(explanation.contributions, abs=1e-9)

    # The same model in shadow agrees with itself on everything.
    for client in (integration, client_for(auditor)):
        report = client.get("/api/v1/models/credit-risk/versions/2.0.0/shadow-report/").json()
        assert report["decisions_compared"] == 30 and report["outcome_agreement"] == 1.0
        assert report["became_favourable"] == report["became_unfavourable"] == 0
        assert report["max_abs_score_difference"] == 0.0 and report["top_reason_agreement"] == 1.0
    assert (
        client_for(caseworker).get("/api/v1/models/credit-risk/versions/2.0.0/shadow-report/").status_code
        == 403
    )
