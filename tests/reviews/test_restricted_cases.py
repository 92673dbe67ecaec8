"""A decision restricted on the person's request (GDPR Art. 18, oversight.erasure): the
caseworker's API gives none of their data, and no case action is taken, by page or API, service
or view: each is refused with a 409 naming the restriction."""

import pytest
from django.utils import timezone

from audit.services import Actor
from config.errors import ApplicationError
from decisions.models import Decision
from decisions.recording import DecisionInput
from explanations.recording import decision_record_many
from reviews.models import CaseAction, ReviewRequest
from reviews.services import casework, requests
from tests.conftest import client_for

STATEMENT = "My income is 4,200 a month; the payslips show it clearly."
RATIONALE = "The payslips confirm the income recorded; the outcome stands as decided."
RESTRICTION = "restricted on the person's request"


@pytest.fixture
def restricted_case(credit_version, credit_trained):
    recorded = decision_record_many(
        items=[DecisionInput(model="credit-risk", features=credit_trained.sample_rows[0], subject_ref="r-1")],
        actor=Actor.system("tests"),
    )[0]
    case = requests.review_request_create(
        decision=recorded.decision, kind="contest", grounds="other", statement=STATEMENT
    )
    Decision.objects.filter(pk=recorded.decision.pk).update(restricted_at=timezone.now())
    return ReviewRequest.objects.select_related("decision").get(pk=case.pk)


def assert_untouched(case: ReviewRequest) -> None:
    case.refresh_from_db()
    assert (case.status, case.assignee_id, case.extension_months) == ("received", None, 0)
    assert list(case.actions.values_list("kind", flat=True)) == [CaseAction.Kind.RECEIVED]


@pytest.mark.django_db
def test_the_api_gives_no_personal_data_of_a_restricted_decision(restricted_case, caseworker):
    api = client_for(caseworker)
    detail = api.get(f"/api/v1/reviews/{restricted_case.reference}/")
    assert detail.status_code == 200
    body = detail.json()
    assert body["restricted"] is True and body["statement"] is None and body["corrections"] is None
    assert STATEMENT not in detail.content.decode()
    queue = api.get("/api/v1/reviews/")
    assert [c["reference"] for c in queue.json()] == [restricted_case.reference]
    assert queue.json()[0]["restricted"] is True and STATEMENT not in queue.content.decode()


@pytest.mark.django_db
def test_every_case_action_on_a_restricted_decision_is_refused(restricted_case, caseworker):
    ref = restricted_case.reference
    in_force = str(restricted_case.decision_id)
    api = client_for(caseworker)
    for path, body in [
        ("take/", {}),
        ("uphold/", {"rationale": RATIONALE}),
        ("overturn/", {"rationale": RATIONALE, "new_outcome": "bad"}),
        ("request-information/", {"question": "Could you send the payslips of the last months?"}),
        ("extend/", {"months": 1, "reason": "We are waiting for the bank's records of the account."}),
    ]:
        refused = api.post(f"/api/v1/reviews/{ref}/{path}", body, format="json")
        assert refused.status_code == 409, path
        assert RESTRICTION in refused.json()["errors"]["status"]
        assert STATEMENT not in refused.content.decode()
    pages = client_for(caseworker)
    for path, body in [
        ("take/", {}),
        ("uphold/", {"rationale": RATIONALE, "in_force": in_force}),
        ("overturn/", {"rationale": RATIONALE, "new_outcome": "bad", "in_force": in_force}),
        ("ask/", {"ask-question": "Could you send the payslips of the last months?"}),
        ("extend/", {"extend-months": "1", "extend-reason": "We are waiting for the bank's records."}),
    ]:
        refused = pages.post(f"/cases/{ref}/{path}", body)
        assert refused.status_code == 409, path
        page = refused.content.decode()
        assert (
            "Restricted on the person&#x27;s request" in page or "Restricted on the person's request" in page
        )
        assert STATEMENT not in page
    # The services themselves refuse, whoever calls them.
    for act in (
        lambda: casework.review_take(request=restricted_case, user=caseworker),
        lambda: casework.review_uphold(request=restricted_case, user=caseworker, rationale=RATIONALE),
        lambda: casework.review_extend(
            request=restricted_case, user=caseworker, months=1, reason="We wait for the bank's records."
        ),
    ):
        with pytest.raises(ApplicationError) as refused:
            act()
        assert refused.value.status_code == 409 and RESTRICTION in refused.value.fields["status"]
    assert_untouched(restricted_case)
