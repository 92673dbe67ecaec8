"""The caseworker's workspace: queue, case, actions, oversight signals, and its API."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import Action, AuditEvent
from audit.services import Actor
from decisions.models import Decision
from decisions.recording import DecisionInput
from explanations.drain import explanation_drain
from explanations.recording import decision_record_many
from reviews import deadlines
from reviews.models import ReviewRequest
from reviews.services import casework, requests
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
RATIONALE = "I compared the inputs with the applicant's documents; the model's assessment stands on them."


def decide(credit_version, rows):
    items = [DecisionInput(model="credit-risk", features=r, subject_ref=f"p-{i}") for i, r in enumerate(rows)]
    recorded = decision_record_many(items=items, actor=Actor.system("tests"))
    explanation_drain(model_version_id=credit_version.pk)
    return recorded


def open_requests(recorded, kinds=("contest",)):
    out = []
    for i, r in enumerate(recorded):
        kind = kinds[i % len(kinds)]
        out.append(
            requests.review_request_create(
                decision=r.decision,
                kind=kind,
                grounds="data_wrong" if kind == "contest" else "",
                statement=f"Statement number {i}: my income is higher than recorded.",
            )
        )
    return out


@pytest.fixture
def cases(credit_version, credit_trained):
    return open_requests(decide(credit_version, credit_trained.sample_rows[:3]), kinds=("contest", "view"))


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


PAGES = ["/cases/", "/cases/signals/", "/cases/{ref}/"]
ACTIONS = ["take", "uphold", "overturn", "ask", "extend"]


@pytest.mark.parametrize("page", PAGES)
def test_pages_refuse_anonymous_auditors_and_users_without_a_role(client, cases, auditor, nobody, page):
    url = page.format(ref=cases[0].reference)
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/?next=")
    assert client_for(nobody).get(url).status_code == 403
    if page != "/cases/signals/":  # auditors oversee the signals, but do not work cases
        assert client_for(auditor).get(url).status_code == 403


@pytest.mark.parametrize("action", ACTIONS)
def test_actions_refuse_everyone_but_caseworkers(client, cases, auditor, nobody, action):
    url = f"/cases/{cases[0].reference}/{action}/"
    body = {"overturn-rationale": RATIONALE}
    assert client.post(url, body).status_code == 302
    assert client_for(auditor).post(url, body).status_code == 403
    assert client_for(nobody).post(url, body).status_code == 403
    cases[0].refresh_from_db()
    assert cases[0].status == "received" and cases[0].assignee is None


def test_signals_are_for_supervisors(cases, caseworker, auditor):
    assert client_for(caseworker).get("/cases/signals/").status_code == 403
    caseworker.is_staff = True
    caseworker.save()
    assert client_for(caseworker).get("/cases/signals/").status_code == 200
    assert client_for(auditor).get("/cases/signals/").status_code == 200


def test_the_queue_is_sorted_by_due_date_with_overdue_marked(cases, caseworker):
    late = timezone.now() - timedelta(days=40)
    ReviewRequest.objects.filter(pk=cases[2].pk).update(
        received_at=late, due_at=deadlines.due_date_for(late), original_due_at=deadlines.due_date_for(late)
    )
    page = text_of(client_for(caseworker).get("/cases/"))
    order = [m for m in re.findall(r'href="/cases/(R-[A-Z0-9]+)/"', page)]
    assert order == [cases[2].reference, cases[0].reference, cases[1].reference]
    first_row = page.split("<tbody>")[1].split("</tr>")[0]
    assert 'class="overdue"' in first_row and "overdue" in first_row and cases[2].reference in first_row
    assert "overdue</strong>" not in page.split("</tr>")[2]


def test_queue_filters(cases, caseworker, credit_version):
    client = client_for(caseworker)
    casework.review_take(request=cases[1], user=caseworker)

    def refs(query: str) -> set[str]:
        return set(
            re.findall(r'href="/cases/(R-[A-Z0-9]+)/"', client.get("/cases/?" + query).content.decode())
        )

    assert refs("kind=view") == {cases[1].reference}
    assert refs("kind=contest") == {cases[0].reference, cases[2].reference}
    assert refs("assignee=me") == {cases[1].reference}
    assert refs("assignee=none") == {cases[0].reference, cases[2].reference}
    assert refs(f"assignee={caseworker.pk}") == {cases[1].reference}
    assert refs("status=in_review") == {cases[1].reference}
    assert refs("model=credit-risk") == {c.reference for c in cases}
    casework.review_uphold(request=cases[1], user=caseworker, rationale=RATIONALE)
    assert cases[1].reference not in refs("")
    assert cases[1].reference in refs("status=all") and refs("status=upheld") == {cases[1].reference}


@pytest.mark.parametrize("n", [1, 3])
def test_the_queue_makes_a_fixed_number_of_queries(
    credit_version, credit_trained, caseworker, django_assert_num_queries, n
):
    open_requests(decide(credit_version, credit_trained.sample_rows[:n]))
    client = client_for(caseworker)
    client.get("/cases/")  # warm the session
    # session + user + groups (role check) + groups (nav) + groups (supervisor: the signals link)
    # + models + caseworkers + the queue + the referred decisions waiting to be taken
    with django_assert_num_queries(9):
        response = client.get("/cases/")
    assert response.status_code == 200 and response.content.decode().count('href="/cases/R-') == n


def test_take_then_the_case_page_shows_everything(cases, caseworker):
    client = client_for(caseworker)
    taken = client.post(f"/cases/{cases[0].reference}/take/")
    assert taken.status_code == 302 and taken["Location"] == f"/cases/{cases[0].reference}/"
    cases[0].refresh_from_db()
    assert cases[0].assignee == caseworker and cases[0].status == "in_review"
    page = text_of(client.get(taken["Location"]))
    decision = cases[0].decision
    assert "Statement number 0" in page and decision.subject_ref in page and str(decision.pk) in page
    assert 'class="waterfall"' in page and 'class="data-used' in page
    assert decision.model_version.artifact_sha256 in page and "Area under the ROC curve" in page  # model card
    assert "Case taken" in page and "casey" in page  # history
    assert 'name="overturn-rationale"' in page and 'name="overturn-new_outcome"' in page
    assert 'name="ask-question"' in page and 'name="extend-months"' in page
    viewed = AuditEvent.objects.get(action=Action.DECISION_CASE_VIEWED)
    assert viewed.object_id == str(decision.pk) and viewed.actor_id == str(caseworker.pk)


def test_every_action_needs_a_written_rationale(cases, caseworker):
    client = client_for(caseworker)
    ref = cases[0].reference
    for action, body in [
        ("uphold", {"overturn-rationale": "fine"}),
        ("overturn", {"overturn-new_outcome": "approved", "overturn-rationale": ""}),
        ("ask", {"ask-question": "?"}),
        ("extend", {"extend-months": "1", "extend-reason": ""}),
    ]:
        response = client.post(f"/cases/{ref}/{action}/", body)
        assert response.status_code == 400, action
        page = response.content.decode()
        assert 'class="error-summary" role="alert"' in page and 'class="error-message" id="id_' in page
    cases[0].refresh_from_db()
    assert cases[0].status == "received" and cases[0].extension_months == 0
    assert not AuditEvent.objects.filter(object_type="review_request").exclude(action=Action.REVIEW_REQUESTED)


def test_the_actions_through_the_pages_each_leave_an_audit_event(cases, caseworker):
    client = client_for(caseworker)
    first, second = cases[0], cases[1]
    reason = "We need the applicant's archived file from the branch, which takes weeks."
    assert (
        client.post(
            f"/cases/{first.reference}/extend/", {"extend-months": "2", "extend-reason": reason}
        ).status_code
        == 302
    )
    question = "Please send the statement of your savings account."
    assert client.post(f"/cases/{first.reference}/ask/", {"ask-question": question}).status_code == 302
    requests.review_subject_reply(request=first, statement="Attached: 1,200 DM.")
    decision = first.decision
    new = "approved" if decision.outcome == "refused" else "refused"
    overturned = client.post(
        f"/cases/{first.reference}/overturn/", {"overturn-new_outcome": new, "overturn-rationale": RATIONALE}
    )
    assert overturned.status_code == 302
    assert (
        client.post(f"/cases/{second.reference}/uphold/", {"overturn-rationale": RATIONALE}).status_code
        == 302
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "overturned" and first.human_decision.outcome == new
    assert (
        first.human_decision.supersedes_id == decision.pk and first.human_decision.kind == Decision.Kind.HUMAN
    )
    assert first.extension_months == 2 and first.due_at == deadlines.add_months(first.received_at, 3)
    assert second.status == "upheld" and second.rationale == RATIONALE
    events = list(
        AuditEvent.objects.filter(object_type="review_request", object_id=str(first.pk)).values_list(
            "action", flat=True
        )
    )
    assert events == [
        Action.REVIEW_REQUESTED,
        Action.REVIEW_EXTENDED,
        Action.REVIEW_INFO_REQUESTED,
        Action.REVIEW_SUBJECT_REPLIED,
        Action.REVIEW_OVERTURNED,
    ]
    assert AuditEvent.objects.filter(action=Action.REVIEW_UPHELD, object_id=str(second.pk)).exists()
    closed = text_of(client.get(f"/cases/{first.reference}/"))
    assert "Outcome of this review" in closed and 'name="overturn-rationale"' not in closed


def test_signals_page_lists_reviewers(cases, caseworker, auditor):
    casework.review_uphold(request=cases[0], user=caseworker, rationale=RATIONALE)
    page = text_of(client_for(auditor).get("/cases/signals/"))
    assert "casey" in page and "100%" in page and "too few cases" in page


# ---------------------------------------------------------------------------- API
def test_caseworker_api(cases, caseworker, auditor, integration):
    api = client_for(caseworker)
    queue = api.get("/api/v1/reviews/").json()
    assert [c["reference"] for c in queue] == [
        c.reference for c in sorted(cases, key=lambda c: (c.due_at, c.pk))
    ]
    ref = cases[0].reference
    assert api.post(f"/api/v1/reviews/{ref}/take/").json()["assignee"] == "casey"
    short = api.post(f"/api/v1/reviews/{ref}/uphold/", data={"rationale": "ok"}, format="json")
    assert short.status_code == 400 and "rationale" in short.json()["errors"]
    extended = api.post(
        f"/api/v1/reviews/{ref}/extend/",
        data=json.dumps({"months": 1, "reason": "The file is in the archive and must be requested."}),
        content_type="application/json",
    )
    assert extended.status_code == 200 and extended.json()["extension_months"] == 1
    new = "approved" if cases[0].decision.outcome == "refused" else "refused"
    done = api.post(
        f"/api/v1/reviews/{ref}/overturn/", data={"new_outcome": new, "rationale": RATIONALE}, format="json"
    ).json()
    assert done["status"] == "overturned" and done["new_outcome"] == new and done["human_decision"]
    again = api.post(f"/api/v1/reviews/{ref}/uphold/", data={"rationale": RATIONALE}, format="json")
    assert again.status_code == 409
    for outsider in (client_for(auditor), integration):
        assert outsider.get("/api/v1/reviews/").status_code == 403
        assert outsider.post(f"/api/v1/reviews/{cases[1].reference}/take/").status_code == 403


def test_the_queue_api_filters_and_names_a_filter_it_cannot_read(cases, caseworker):
    api = client_for(caseworker)
    casework.review_take(request=cases[1], user=caseworker)

    def refs(**params) -> set[str]:
        response = api.get("/api/v1/reviews/", params)
        assert response.status_code == 200, response.content
        return {c["reference"] for c in response.json()}

    assert refs(kind="view") == {cases[1].reference}
    assert refs(assignee="me") == {cases[1].reference}
    assert refs(assignee="none") == {cases[0].reference, cases[2].reference}
    assert refs(status="in_review") == {cases[1].reference}
    assert refs(status="all", model="credit-risk") == {c.reference for c in cases}
    # A misspelt filter is not an empty (or a complete) queue: 400, naming each.
    response = api.get("/api/v1/reviews/", {"status": "opne", "kind": "complaint", "assignee": "bob"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"status", "kind", "assignee"}


def test_the_api_is_in_the_openapi_spec(client):
    spec = client.get("/api/schema/?format=json").json()
    for p in (
        "/api/v1/subject/decision/",
        "/api/v1/subject/requests/",
        "/api/v1/reviews/{reference}/overturn/",
    ):
        assert p in spec["paths"]
