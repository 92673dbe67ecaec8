"""The integrating system's read of review requests and outcomes (reviews.controller_api): only
its own decisions' requests, the outcome and the rationale, never what the person wrote."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audit.services import Actor
from decisions.accounts import api_key_create, api_key_revoke
from decisions.recording import DecisionInput
from explanations.recording import decision_record_many
from reviews.models import ReviewRequest
from reviews.services import casework, requests
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
LIST = "/api/v1/decisions/reviews/"
STATEMENT = "My income is 3,100 DM a month, not 1,100 as recorded."
EMAIL = "wallaby.subject@example.org"
RATIONALE = "The payslips confirm the recorded income; the model's assessment stands on them."
# The subject's own words and address, and the caseworker's: never in the integration's body.
PERSONAL = ("statement", "contact_email", "corrections", "info_question", "history", "assignee")


def record(rows, api_key, prefix="p"):
    items = [
        DecisionInput(model="credit-risk", features=r, subject_ref=f"{prefix}-{i}")
        for i, r in enumerate(rows)
    ]
    return [
        r.decision for r in decision_record_many(items=items, actor=Actor.system("tests"), api_key=api_key)
    ]


def contest(decision) -> ReviewRequest:
    return requests.review_request_create(
        decision=decision, kind="contest", grounds="data_wrong", statement=STATEMENT, contact_email=EMAIL
    )


@pytest.fixture
def other_key(db):
    key, raw = api_key_create(name="other-system", actor=Actor.system("tests"))
    key.raw = raw
    return key


@pytest.fixture
def mine_and_theirs(credit_version, credit_trained, api_key, other_key):
    mine = record(credit_trained.sample_rows[:2], api_key)
    theirs = record(credit_trained.sample_rows[2:3], other_key, prefix="q")
    return {"mine": [contest(d) for d in mine], "theirs": contest(theirs[0]), "decisions": mine}


def references(response) -> list[str]:
    return [r["reference"] for r in response.json()["results"]]


def test_a_key_lists_only_the_requests_about_its_own_decisions(integration, mine_and_theirs):
    response = integration.get(LIST)
    assert response.status_code == 200
    assert sorted(references(response)) == sorted(r.reference for r in mine_and_theirs["mine"])


def test_another_keys_request_is_not_found(integration, mine_and_theirs):
    theirs = mine_and_theirs["theirs"].reference
    assert integration.get(f"{LIST}{theirs}/").status_code == 404
    assert integration.get(f"{LIST}R-NOSUCHREF/").status_code == 404
    assert (
        integration.get(LIST, {"decision": str(mine_and_theirs["theirs"].decision_id)}).json()["results"]
        == []
    )


def test_an_open_request_reads_with_its_deadline_and_no_outcome(integration, mine_and_theirs):
    request = mine_and_theirs["mine"][0]
    body = integration.get(f"{LIST}{request.reference}/").json()
    assert body == {
        "reference": request.reference,
        "decision": str(request.decision_id),
        "kind": "contest",
        "status": "received",
        "grounds": "data_wrong",
        "received_at": request.received_at.isoformat().replace("+00:00", "Z"),
        "due_at": request.due_at.isoformat().replace("+00:00", "Z"),
        "original_due_at": request.original_due_at.isoformat().replace("+00:00", "Z"),
        "extension_months": 0,
        "extended_at": None,
        "extension_reason": "",
        "closed_at": None,
        "outcome": None,
        "outcome_in_force": request.decision.outcome,
        "human_decision": None,
        "rationale": "",
        "updated_at": body["updated_at"],
    }


def test_an_overturned_request_gives_the_outcome_in_force_and_the_rationale(
    integration, mine_and_theirs, caseworker
):
    request = mine_and_theirs["mine"][0]
    new_outcome = "approved" if request.decision.outcome == "refused" else "refused"
    casework.review_overturn(request=request, user=caseworker, new_outcome=new_outcome, rationale=RATIONALE)
    request.refresh_from_db()
    body = integration.get(f"{LIST}{request.reference}/").json()
    assert (body["status"], body["outcome"], body["outcome_in_force"]) == (
        "overturned",
        "overturned",
        new_outcome,
    )
    assert body["human_decision"] == str(request.human_decision_id) and request.human_decision_id is not None
    assert body["rationale"] == RATIONALE
    assert body["closed_at"] == request.closed_at.isoformat().replace("+00:00", "Z")


def test_no_personal_data_of_the_subject_in_the_body(integration, mine_and_theirs):
    listed = integration.get(LIST).content.decode()
    one = integration.get(f"{LIST}{mine_and_theirs['mine'][0].reference}/").content.decode()
    for text in (listed, one):
        assert STATEMENT not in text and EMAIL not in text
    row = integration.get(LIST).json()["results"][0]
    assert not set(PERSONAL) & set(row)


def test_filters_by_status_kind_decision_and_time(integration, mine_and_theirs, caseworker):
    first, second = mine_and_theirs["mine"]
    casework.review_uphold(request=first, user=caseworker, rationale=RATIONALE)
    assert references(integration.get(LIST, {"status": "upheld"})) == [first.reference]
    assert references(integration.get(LIST, {"status": "open"})) == [second.reference]
    assert references(integration.get(LIST, {"kind": "contest"})) == [second.reference, first.reference]
    assert references(integration.get(LIST, {"kind": "view"})) == []
    assert references(integration.get(LIST, {"decision": str(second.decision_id)})) == [second.reference]
    first.refresh_from_db()
    since = integration.get(LIST, {"updated_since": first.updated_at.isoformat()})
    assert references(since) == [first.reference]  # the latest change only
    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert references(integration.get(LIST, {"updated_since": future})) == []


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("status", "closed"),
        ("status", ""),
        ("kind", "appeal"),
        ("decision", "not-a-uuid"),
        ("updated_since", "yesterday"),
    ],
)
def test_a_filter_it_cannot_read_is_a_400_naming_it(integration, mine_and_theirs, param, value):
    response = integration.get(LIST, {param: value})
    assert response.status_code == 400
    assert param in response.json()["errors"]


def test_pages_follow_the_cursor_by_last_change(integration, mine_and_theirs):
    first_page = integration.get(LIST, {"page_size": 1}).json()
    assert len(first_page["results"]) == 1 and first_page["next"]
    second_page = integration.get(first_page["next"]).json()
    assert [first_page["results"][0]["reference"], second_page["results"][0]["reference"]] == [
        r.reference for r in mine_and_theirs["mine"]
    ]
    assert second_page["next"] is None


@pytest.mark.parametrize("n", [1, 3])
def test_the_list_makes_a_fixed_number_of_queries(
    credit_version, credit_trained, api_key, integration, django_assert_num_queries, n
):
    for decision in record(credit_trained.sample_rows[:n], api_key):
        contest(decision)
    with django_assert_num_queries(2):  # the key, then the page with each outcome in force
        response = integration.get(LIST)
    assert len(response.json()["results"]) == n


def test_sessions_and_anonymous_are_refused(mine_and_theirs, caseworker, auditor, nobody):
    reference = mine_and_theirs["mine"][0].reference
    for url in (LIST, f"{LIST}{reference}/"):
        for client in (client_for(caseworker), client_for(auditor), client_for(nobody)):
            assert client.get(url).status_code == 403, url
        assert APIClient().get(url).status_code == 401, url


def test_a_revoked_key_is_refused(integration, mine_and_theirs, api_key):
    api_key_revoke(key=api_key, actor=Actor.system("tests"))
    assert integration.get(LIST).status_code in (401, 403)
