"""Rectify and re-decide (GDPR Art. 16 with Art. 22): the person proposes corrected values, a
caseworker accepts or rejects each, and accepted ones are decided again by the same version."""

import re

import pytest
from django.core import mail
from django.core.cache import cache
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent
from audit.services import Actor
from config.errors import ApplicationError
from decisions.models import Decision
from decisions.recording import DecisionInput
from decisions.selectors import effective_decision
from explanations.drain import explanation_drain
from explanations.models import Explanation
from explanations.recording import decision_record, decision_record_many
from reviews.models import CaseAction, ReviewRequest
from reviews.services import casework, rectify, requests
from tests.conftest import client_for
from tests.services import wait_until

RATIONALE = "The bank statement shows the account; the loan duration in the contract is as recorded."


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()
    yield
    cache.clear()


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def other_category(version, name: str, value: str) -> str:
    categories = next(f for f in version.feature_schema["features"] if f["name"] == name)["categories"]
    return next(c["value"] for c in categories if c["value"] != value)


def corrections_for(version, features: dict) -> dict:
    """A different current account and a different loan duration: values the schema accepts."""
    return {
        "checking_account": other_category(version, "checking_account", features["checking_account"]),
        "duration_months": 6 if features["duration_months"] != 6 else 12,
    }


def rectify_request(recorded, corrections, **kwargs) -> ReviewRequest:
    return requests.review_request_create(
        decision=recorded.decision, kind="rectify", corrections=corrections, **kwargs
    )


@pytest.mark.django_db(transaction=True)
def test_accepted_correction_is_decided_again_by_the_same_version_and_shown_side_by_side(
    client, worker, credit_version, applicant, caseworker
):
    recorded = decision_record(
        item=DecisionInput(model="credit-risk", features=applicant, subject_ref="p-1"),
        actor=Actor.system("tests"),
    )
    original = recorded.decision
    proposed = corrections_for(credit_version, original.features)
    # The person proposes on their page: one field per input, the value used as a hint.
    assert client.get(f"/access/{recorded.access_token}/").status_code == 302  # binds the session
    page = client.get(f"/access/decision/{original.pk}/correct/")
    assert page.status_code == 200 and "We used:" in text_of(page)
    assert 'name="value_age_years"' not in text_of(page)  # monitored: never a model input
    sent = client.post(
        f"/access/decision/{original.pk}/correct/",
        {
            "value_checking_account": proposed["checking_account"],
            "value_duration_months": str(proposed["duration_months"]),
            "contact_email": "person@example.org",
        },
    )
    assert sent.status_code == 302
    case = ReviewRequest.objects.get(decision=original)
    assert (case.kind, case.corrections) == ("rectify", proposed)

    # The caseworker accepts the account and rejects the duration.
    form = client_for(caseworker).get(f"/cases/{case.reference}/rectify/")
    assert form.status_code == 200 and "Proposed corrections" in text_of(form)
    done = client_for(caseworker).post(
        f"/cases/{case.reference}/rectify/",
        {
            "rectify-field_checking_account": "accept",
            "rectify-field_duration_months": "reject",
            "rectify-rationale": RATIONALE,
            "rectify-in_force": str(original.pk),
        },
    )
    assert done.status_code == 302
    case.refresh_from_db()
    new = case.human_decision
    assert case.status == "rectified"
    assert (new.kind, new.model_version_id, new.supersedes_id) == (
        "automated",
        credit_version.pk,
        original.pk,
    )
    assert new.features == {**original.features, "checking_account": proposed["checking_account"]}
    assert effective_decision(Decision.objects.get(pk=original.pk)).pk == new.pk
    # Re-scored on the corrected data, not copied: the main road gives the same score for them.
    again = decision_record(
        item=DecisionInput(model="credit-risk", features=new.features, subject_ref="check"),
        actor=Actor.system("tests"),
    )
    assert new.score == again.decision.score and new.outcome == again.decision.outcome
    assert new.score != original.score

    explained = Explanation.objects.filter(decision=new, status="done")
    wait_until(explained.exists, timeout=90, what="the new decision's explanation")
    page = text_of(client.get(f"/access/{recorded.access_token}/", follow=True))
    assert "Decided again on your corrected data" in page
    header = page.split('id="reviewed-title">')[1].split("</h2>")[0]
    assert header == "This decision was made again on your corrected data"
    assert "A person has reviewed this decision" not in page and "decided by a person on" not in page
    assert "Before the correction" in page and "After the correction" in page
    assert 'id="before-chart' in page and 'id="after-chart' in page
    side_by_side = page.split("Before the correction")[1]
    assert f"<strong>{original.outcome}</strong>" in side_by_side.split("After the correction")[0]
    assert f"<strong>{new.outcome}</strong>" in side_by_side.split("After the correction")[1]
    assert "Balance of your current account" in page.split("What was corrected")[1]

    recorded_event = AuditEvent.objects.get(action=Action.DECISION_RECORDED, object_id=str(new.pk))
    assert recorded_event.data["supersedes"] == str(original.pk)
    assert recorded_event.data["corrected"] == ["checking_account"]
    closing = AuditEvent.objects.get(action=Action.REVIEW_RECTIFIED, object_id=str(case.pk))
    assert (closing.data["accepted"], closing.data["rejected"]) == (["checking_account"], ["duration_months"])
    assert [m.to for m in mail.outbox] == [["person@example.org"]] * 2
    assert "Balance of your current account" in mail.outbox[1].body
    assert f"it is now “{new.outcome}”" in mail.outbox[1].body


@pytest.mark.django_db
def test_rejected_corrections_leave_the_decision_as_it_is(client, credit_version, credit_trained, caseworker):
    recorded = decision_record_many(
        items=[DecisionInput(model="credit-risk", features=credit_trained.sample_rows[1], subject_ref="p-2")],
        actor=Actor.system("tests"),
    )[0]
    explanation_drain(model_version_id=credit_version.pk)
    case = rectify_request(recorded, corrections_for(credit_version, recorded.decision.features))
    response = client_for(caseworker).post(
        f"/cases/{case.reference}/rectify/",
        {
            "rectify-field_checking_account": "reject",
            "rectify-field_duration_months": "reject",
            "rectify-rationale": RATIONALE,
        },
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.human_decision) == ("rejected", None)
    assert Decision.objects.filter(supersedes=recorded.decision).count() == 0
    assert list(case.actions.values_list("kind", flat=True)) == [
        "received",
        CaseAction.Kind.RECTIFICATION_REJECTED,
    ]
    assert AuditEvent.objects.filter(
        action=Action.REVIEW_RECTIFICATION_REJECTED, object_id=str(case.pk)
    ).exists()
    page = text_of(client.get(f"/access/{recorded.access_token}/", follow=True))
    assert "Decided again on your corrected data" not in page and "Correction not accepted" in page
    # A closed request is decided once.
    with pytest.raises(ApplicationError) as again:
        rectify.review_rectify(
            request=case, user=caseworker, accepted=["duration_months"], rationale=RATIONALE
        )
    assert again.value.status_code == 409


@pytest.mark.django_db
def test_invalid_proposals_are_refused_by_name(client, credit_version, credit_trained):
    recorded = decision_record_many(
        items=[DecisionInput(model="credit-risk", features=credit_trained.sample_rows[2], subject_ref="p-3")],
        actor=Actor.system("tests"),
    )[0]
    features = recorded.decision.features
    api = client_for_token(recorded.access_token)
    response = api.post(
        "/api/v1/subject/requests/",
        {
            "kind": "rectify",
            "corrections": {
                "incme": 1,
                "age_years": 30,
                "checking_account": "rich",
                "duration_months": 999,
            },
        },
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]["corrections"]
    assert errors["incme"] == "unknown field for this decision"
    assert errors["age_years"] == "not data the model decides on: it cannot be corrected here"
    # Unknown and protected names are refused first; then the values, each by name.
    response = api.post(
        "/api/v1/subject/requests/",
        {"kind": "rectify", "corrections": {"checking_account": "rich", "duration_months": 999}},
        format="json",
    )
    errors = response.json()["errors"]["corrections"]
    assert set(errors) == {"checking_account", "duration_months"}
    unchanged = api.post(
        "/api/v1/subject/requests/",
        {"kind": "rectify", "corrections": {"duration_months": features["duration_months"]}},
        format="json",
    )
    assert unchanged.json()["errors"]["corrections"] == {"duration_months": "this is the value already used"}
    contest = api.post(
        "/api/v1/subject/requests/",
        {"kind": "contest", "grounds": "other", "statement": "x", "corrections": {"duration_months": 6}},
        format="json",
    )
    assert contest.status_code == 400 and "corrections" in contest.json()["errors"]
    assert ReviewRequest.objects.count() == 0

    # The page: nothing given, then a value out of range, each said on its field.
    assert client.get(f"/access/{recorded.access_token}/").status_code == 302  # binds the session
    empty = client.post(f"/access/decision/{recorded.decision.pk}/correct/", {})
    assert empty.status_code == 400 and "Give the correct value of at least one field" in text_of(empty)
    far = client.post(f"/access/decision/{recorded.decision.pk}/correct/", {"value_duration_months": "999"})
    assert far.status_code == 400 and 'id="id_value_duration_months_error"' in far.content.decode()

    proposed = corrections_for(credit_version, features)
    created = api.post(
        "/api/v1/subject/requests/", {"kind": "rectify", "corrections": proposed}, format="json"
    )
    assert created.status_code == 201 and created.json()["corrections"] == proposed


def client_for_token(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_X_ACCESS_TOKEN=token)
    return api


@pytest.mark.django_db
def test_only_caseworkers_decide_corrections(
    client, credit_version, credit_trained, caseworker, auditor, nobody
):
    recorded = decision_record_many(
        items=[DecisionInput(model="credit-risk", features=credit_trained.sample_rows[3], subject_ref="p-4")],
        actor=Actor.system("tests"),
    )[0]
    case = rectify_request(recorded, corrections_for(credit_version, recorded.decision.features))
    url = f"/cases/{case.reference}/rectify/"
    body = {"rectify-field_checking_account": "accept", "rectify-rationale": RATIONALE}
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/?next=")
    assert client.post(url, body).status_code == 302
    for user in (auditor, nobody):
        assert client_for(user).get(url).status_code == 403
        assert client_for(user).post(url, body).status_code == 403
    with pytest.raises(ApplicationError) as refused:
        rectify.review_rectify(request=case, user=auditor, accepted=["checking_account"], rationale=RATIONALE)
    assert refused.value.status_code == 403
    case.refresh_from_db()
    assert (case.status, case.assignee) == ("received", None)
    assert client_for(caseworker).get(url).status_code == 200
    # Another kind of request has no corrections to weigh.
    contest = requests.review_request_create(
        decision=recorded.decision, kind="contest", grounds="other", statement="My income is higher."
    )
    assert client_for(caseworker).get(f"/cases/{contest.reference}/rectify/").status_code == 404


@pytest.mark.django_db
def test_a_request_for_correction_is_not_upheld_or_overturned(credit_version, credit_trained, caseworker):
    recorded = decision_record_many(
        items=[DecisionInput(model="credit-risk", features=credit_trained.sample_rows[4], subject_ref="p-5")],
        actor=Actor.system("tests"),
    )[0]
    case = rectify_request(recorded, corrections_for(credit_version, recorded.decision.features))
    page = text_of(client_for(caseworker).get(f"/cases/{case.reference}/"))
    assert "Accept or reject the proposed corrections" in page
    assert f"/cases/{case.reference}/uphold/" not in page and f"/cases/{case.reference}/overturn/" not in page
    other = next(o for o in credit_version.output["class_labels"] if o != recorded.decision.outcome)
    for act in (
        lambda: casework.review_uphold(request=case, user=caseworker, rationale=RATIONALE),
        lambda: casework.review_overturn(
            request=case, user=caseworker, new_outcome=other, rationale=RATIONALE
        ),
    ):
        with pytest.raises(ApplicationError) as refused:
            act()
        assert refused.value.status_code == 409
        assert "accepting or rejecting its corrections" in refused.value.fields["status"]
    api = client_for(caseworker).post(
        f"/api/v1/reviews/{case.reference}/uphold/", {"rationale": RATIONALE}, format="json"
    )
    assert api.status_code == 409 and "accepting or rejecting" in api.json()["errors"]["status"]
    case.refresh_from_db()
    assert (case.status, case.human_decision) == ("received", None)
    assert Decision.objects.filter(supersedes=recorded.decision).count() == 0


@pytest.mark.django_db
def test_a_referred_decision_decided_again_on_corrected_data_is_replaced(
    client, credit_version, credit_trained, caseworker
):
    """It was waiting for a person, so it never took effect: the redecision replaces it."""
    recorded = decision_record_many(
        items=[DecisionInput(model="credit-risk", features=credit_trained.sample_rows[2], subject_ref="p-3")],
        actor=Actor.system("tests"),
    )[0]
    Decision.objects.filter(pk=recorded.decision.pk).update(status=Decision.Status.PENDING_REVIEW)
    case = rectify_request(recorded, corrections_for(credit_version, recorded.decision.features))
    rectify.review_rectify(request=case, user=caseworker, accepted=["duration_months"], rationale=RATIONALE)
    assert Decision.objects.get(pk=recorded.decision.pk).status == "replaced"
    assert Decision.objects.get(supersedes=recorded.decision).status == "final"  # no rules on this version
