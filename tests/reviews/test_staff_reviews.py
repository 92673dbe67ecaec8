"""Reviews staff open themselves: a caseworker or an auditor opens a review of any decision with a
reason; one open review per decision; then it is a case like any other."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent
from audit.services import canonical_sha256
from decisions.models import Decision
from reviews.models import CaseAction, ReviewRequest
from reviews.services import casework
from tests.conftest import client_for
from tests.reviews.test_caseworker import RATIONALE, decide

pytestmark = pytest.mark.django_db
REASON = "The applicant's file shows an income the model could not have seen; please check."


@pytest.fixture
def decision(credit_version, credit_trained):
    return decide(credit_version, credit_trained.sample_rows[:1])[0].decision


def page(decision) -> str:
    return f"/decisions/{decision.pk}/open-review/"


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_a_caseworker_opens_a_review_from_the_decisions_page(decision, caseworker):
    client = client_for(caseworker)
    assert "Open the review" in text_of(client.get(page(decision)))
    response = client.post(page(decision), {"reason": REASON})
    case = ReviewRequest.objects.get(decision=decision)
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.reference}/"
    assert (case.kind, case.status, case.assignee) == ("staff", "received", None)
    assert case.due_at == case.received_at + timedelta(days=14)
    opened = case.actions.get()
    assert (opened.kind, opened.actor, opened.rationale) == (CaseAction.Kind.OPENED, caseworker, REASON)
    event = AuditEvent.objects.get(action=Action.REVIEW_OPENED)
    assert event.actor_id == str(caseworker.pk) and event.object_id == str(case.pk)
    # The reason stays in the case: the log holds its digest only.
    assert event.data["reason_sha256"] == canonical_sha256(REASON) and REASON not in str(event.data)
    assert "Review opened" in text_of(client.get(f"/cases/{case.reference}/"))
    assert case.reference in text_of(client.get("/cases/?kind=staff"))
    assert case.reference not in text_of(client.get("/cases/?kind=contest"))
    # From here it is a case like any other.
    casework.review_take(request=case, user=caseworker)
    casework.review_uphold(request=case, user=caseworker, rationale=RATIONALE)
    assert ReviewRequest.objects.get(pk=case.pk).status == "upheld"


def test_an_auditor_opens_one_and_stays_on_the_page(decision, auditor, settings):
    settings.STAFF_REVIEW_DAYS = 5
    client = client_for(auditor)
    response = client.post(page(decision), {"reason": REASON}, follow=True)
    case = ReviewRequest.objects.get(decision=decision)
    assert f"Review {case.reference} opened." in text_of(response)
    assert case.due_at == case.received_at + timedelta(days=5)
    assert case.actions.get().actor == auditor


def test_no_second_open_review_of_a_decision(decision, caseworker, auditor):
    client_for(auditor).post(page(decision), {"reason": REASON})
    first = ReviewRequest.objects.get(decision=decision)
    response = client_for(caseworker).post(page(decision), {"reason": REASON})
    assert response.status_code == 400 and f"review {first.reference} of this decision is open" in text_of(
        response
    )
    api = client_for(caseworker).post(
        f"/api/v1/decisions/{decision.pk}/reviews/", {"reason": REASON}, format="json"
    )
    assert api.status_code == 409 and first.reference in api.json()["errors"]["decision"]
    assert ReviewRequest.objects.filter(decision=decision).count() == 1


def test_a_reason_is_required(decision, caseworker):
    response = client_for(caseworker).post(page(decision), {"reason": "check"})
    assert response.status_code == 400 and "at least 20 characters" in text_of(response)
    api = client_for(caseworker).post(
        f"/api/v1/decisions/{decision.pk}/reviews/", {"reason": "x"}, format="json"
    )
    assert api.status_code == 400 and set(api.json()["errors"]) == {"reason"}
    assert not ReviewRequest.objects.exists()


def test_the_caseworker_api_opens_one_on_the_original_of_a_changed_decision(decision, caseworker):
    client = client_for(caseworker)
    first = client.post(f"/api/v1/decisions/{decision.pk}/reviews/", {"reason": REASON}, format="json").json()
    case = ReviewRequest.objects.get(reference=first["reference"])
    other = "approved" if decision.outcome == "refused" else "refused"
    casework.review_overturn(request=case, user=caseworker, new_outcome=other, rationale=RATIONALE)
    human = Decision.objects.get(supersedes=decision)
    response = client.post(f"/api/v1/decisions/{human.pk}/reviews/", {"reason": REASON}, format="json")
    assert response.status_code == 201 and response.json()["kind"] == "staff"
    second = ReviewRequest.objects.get(reference=response.json()["reference"])
    assert second.decision_id == decision.pk


def test_who_may_open_a_review(decision, nobody, auditor, client, integration):
    assert client_for(nobody).get(page(decision)).status_code == 403
    assert client_for(nobody).post(page(decision), {"reason": REASON}).status_code == 403
    anonymous = client.post(page(decision), {"reason": REASON})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    url = f"/api/v1/decisions/{decision.pk}/reviews/"
    for api_client in (client_for(auditor), client_for(nobody), integration):
        assert api_client.post(url, {"reason": REASON}, format="json").status_code == 403
    assert APIClient().post(url, {"reason": REASON}, format="json").status_code in (401, 403)
    assert client_for(auditor).get(page(decision)).status_code == 200
    assert not ReviewRequest.objects.exists()


def test_the_auditors_timeline_links_each_decision_to_its_open_review_page(decision, auditor):
    timeline = client_for(auditor).get("/audit/events/?action=decision.recorded").content.decode()
    assert f'href="/decisions/{decision.pk}/open-review/"' in timeline
