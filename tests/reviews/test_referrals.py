"""Review before effect, through the caseworker's pages: a referred decision waits in the queue,
"Take" opens its review, Confirm makes it final, Change replaces it with the person's decision.
The person's page says a person is reviewing it while it waits."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import Action, AuditEvent
from audit.services import Actor
from decisions.accounts import user_create
from decisions.models import Decision
from decisions.recording import DecisionInput
from decisions.referral import referral_rules_set
from explanations.recording import decision_record_many
from reviews.models import CaseAction, ReviewRequest
from tests.conftest import client_for
from tests.reviews.test_caseworker import RATIONALE, decide, open_requests

pytestmark = pytest.mark.django_db


def refer_all(credit_version, rows, *, deadline_hours=24):
    """Decisions of the real credit model, each referred (a band holding every score)."""
    referral_rules_set(
        version=credit_version,
        rules={"score_band": {"min": 0.0, "max": 1.0}, "deadline_hours": deadline_hours},
        actor=Actor.system("tests"),
    )
    items = [
        DecisionInput(model="credit-risk", features=r, subject_ref=f"ref-{i}") for i, r in enumerate(rows)
    ]
    return decision_record_many(items=items, actor=Actor.system("tests"))


@pytest.fixture
def referred(credit_version, credit_trained):
    return refer_all(credit_version, credit_trained.sample_rows[:2])


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def take(client, decision):
    return client.post(f"/cases/referred/{decision.pk}/take/")


def test_the_queue_lists_referred_decisions_by_deadline_until_taken(
    credit_version, credit_trained, caseworker
):
    late = refer_all(credit_version, credit_trained.sample_rows[:1], deadline_hours=48)[0].decision
    soon = refer_all(credit_version, credit_trained.sample_rows[1:2], deadline_hours=2)[0].decision
    client = client_for(caseworker)
    page = text_of(client.get("/cases/"))
    assert "Referred before effect" in page and "score near the cut-off" in page
    assert page.index(f"/cases/referred/{soon.pk}/take/") < page.index(f"/cases/referred/{late.pk}/take/")
    take(client, soon)
    page = text_of(client.get("/cases/"))
    assert f"/cases/referred/{soon.pk}/take/" not in page and f"/cases/referred/{late.pk}/take/" in page


def test_take_opens_an_assigned_review_with_the_decisions_deadline(referred, caseworker):
    decision = referred[0].decision
    response = take(client_for(caseworker), decision)
    case = ReviewRequest.objects.get(decision=decision)
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.reference}/"
    assert (case.kind, case.status, case.assignee, case.due_at) == (
        "referral",
        "in_review",
        caseworker,
        decision.review_due_at,
    )
    assert [a.kind for a in case.actions.order_by("id")] == [CaseAction.Kind.OPENED, CaseAction.Kind.TAKEN]
    opened = AuditEvent.objects.get(action=Action.REVIEW_OPENED)
    assert opened.object_id == str(case.pk)
    assert opened.data["kind"] == "referral" and opened.data["reasons"] == ["score_band"]
    # Taking it again is the same case; the case page offers Confirm and Change.
    assert take(client_for(caseworker), decision)["Location"] == f"/cases/{case.reference}/"
    assert ReviewRequest.objects.filter(decision=decision).count() == 1
    page = text_of(client_for(caseworker).get(f"/cases/{case.reference}/"))
    assert ">Confirm</button>" in page and ">Change</button>" in page and ">Uphold</button>" not in page
    assert "Referred because: score near the cut-off" in page
    # The model card says which decisions its rules refer.
    assert "<dt>Scores near the cut-off</dt><dd>from 0.0 to 1.0</dd>" in page
    assert "<dt>Deadline for a referral</dt><dd>24 hours</dd>" in page


def test_take_confirm_makes_the_decision_final(referred, caseworker, integration):
    decision = referred[0].decision
    client = client_for(caseworker)
    take(client, decision)
    case = ReviewRequest.objects.get(decision=decision)
    assert Decision.objects.get(pk=decision.pk).status == "pending_review"
    response = client.post(
        f"/cases/{case.reference}/uphold/",
        {"overturn-rationale": RATIONALE, "overturn-in_force": str(decision.pk)},
    )
    assert response.status_code == 302
    assert Decision.objects.get(pk=decision.pk).status == "final"
    assert integration.get(f"/api/v1/decisions/{decision.pk}/").json()["status"] == "final"
    upheld = AuditEvent.objects.get(action=Action.REVIEW_UPHELD)
    assert upheld.data["referral"] is True and upheld.data["decision"] == str(decision.pk)


def test_take_change_replaces_the_decision_with_the_persons(referred, caseworker, integration):
    decision = referred[0].decision
    other = "approved" if decision.outcome == "refused" else "refused"
    client = client_for(caseworker)
    take(client, decision)
    case = ReviewRequest.objects.get(decision=decision)
    response = client.post(
        f"/cases/{case.reference}/overturn/",
        {
            "overturn-rationale": RATIONALE,
            "overturn-in_force": str(decision.pk),
            "overturn-new_outcome": other,
        },
    )
    assert response.status_code == 302
    original = Decision.objects.get(pk=decision.pk)
    human = Decision.objects.get(supersedes=original)
    assert (original.status, human.status, human.kind, human.outcome) == ("replaced", "final", "human", other)
    assert integration.get(f"/api/v1/decisions/{decision.pk}/").json()["status"] == "replaced"
    overturned = AuditEvent.objects.get(action=Action.REVIEW_OVERTURNED)
    assert overturned.data["referral"] is True and overturned.data["human_decision"] == str(human.pk)
    # The other referred decision still waits.
    assert Decision.objects.get(pk=referred[1].decision.pk).status == "pending_review"


def test_a_review_of_a_final_decision_is_no_referral(credit_version, credit_trained, caseworker):
    case = open_requests(decide(credit_version, credit_trained.sample_rows[:1]))[0]
    client = client_for(caseworker)
    client.post(f"/cases/{case.reference}/take/")
    client.post(
        f"/cases/{case.reference}/uphold/",
        {"overturn-rationale": RATIONALE, "overturn-in_force": str(case.decision_id)},
    )
    assert "referral" not in AuditEvent.objects.get(action=Action.REVIEW_UPHELD).data
    assert Decision.objects.get(pk=case.decision_id).status == "final"
    # Nor can a final decision be taken as a referral.
    response = take(client, case.decision)
    assert response.status_code == 302 and response["Location"] == "/cases/"
    assert not ReviewRequest.objects.filter(kind="referral").exists()


def test_a_second_caseworker_cannot_take_a_taken_referral(referred, caseworker):
    other = user_create(
        username="other-cw", password="a-long-password-1", role="caseworker", actor=Actor.system("tests")
    )
    take(client_for(caseworker), referred[0].decision)
    response = client_for(other).post(f"/cases/referred/{referred[0].decision.pk}/take/", follow=True)
    assert "took this referral" in text_of(response)
    assert ReviewRequest.objects.get(decision=referred[0].decision).assignee == caseworker


def test_only_caseworkers_take_referrals(referred, auditor, nobody, client, integration):
    decision = referred[0].decision
    for user in (auditor, nobody):
        assert take(client_for(user), decision).status_code == 403
    anonymous = take(client, decision)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert integration.post(f"/cases/referred/{decision.pk}/take/").status_code == 302  # a key is no login
    assert not ReviewRequest.objects.exists()
    assert client_for(nobody).get("/cases/").status_code == 403


def test_the_persons_page_says_a_person_reviews_it_before_it_takes_effect(referred, caseworker, client):
    recorded = referred[0]
    opened = client.get(f"/access/{recorded.access_token}/")
    page = text_of(client.get(opened["Location"]))
    assert "A person is reviewing this decision before it takes effect" in page
    take(client_for(caseworker), recorded.decision)
    case = ReviewRequest.objects.get(decision=recorded.decision)
    client_for(caseworker).post(
        f"/cases/{case.reference}/uphold/",
        {"overturn-rationale": RATIONALE, "overturn-in_force": str(recorded.decision.pk)},
    )
    page = text_of(client.get(opened["Location"]))
    assert "A person is reviewing this decision" not in page


def test_the_caseworker_api_takes_a_referral(referred, caseworker, auditor, nobody, integration):
    url = f"/api/v1/decisions/{referred[0].decision.pk}/referral/take/"
    for client in (client_for(auditor), client_for(nobody), integration):
        assert client.post(url).status_code == 403
    response = client_for(caseworker).post(url)
    assert response.status_code == 200
    body = response.json()
    assert (body["kind"], body["status"]) == ("referral", "in_review")
    case = ReviewRequest.objects.get(decision=referred[0].decision)
    assert body["reference"] == case.reference and case.assignee == caseworker
    final = Decision.objects.get(pk=referred[1].decision.pk)
    Decision.objects.filter(pk=final.pk).update(status="final")
    refused = client_for(caseworker).post(f"/api/v1/decisions/{final.pk}/referral/take/")
    assert (
        refused.status_code == 409
        and "no review before effect is waiting" in refused.json()["errors"]["decision"]
    )


def test_the_referred_section_makes_a_fixed_number_of_queries(credit_version, credit_trained, caseworker):
    client = client_for(caseworker)
    counts = []
    for rows in (credit_trained.sample_rows[:1], credit_trained.sample_rows[1:4]):
        refer_all(credit_version, rows)
        client.get("/cases/")  # warm the session
        with CaptureQueriesContext(connection) as queries:
            page = client.get("/cases/").content.decode()
        counts.append(len(queries))
        assert (
            page.count('action="/cases/referred/') == Decision.objects.filter(status="pending_review").count()
        )
    assert counts[0] == counts[1]
