"""Erasure and restriction on the person's request (GDPR Art. 17, 18): an old decision's personal
data leaves every table and the chain still verifies; a young one is restricted (hidden from
caseworkers, in the auditors' export, told to the person) until retention erases it."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import models
from django.db.models.functions import Cast
from django.utils import timezone

from audit.chain import verify_chain
from audit.models import Action, AuditEvent
from audit.services import Actor, canonical_sha256
from config.encryption import EncryptedTextField
from decisions.commitments import commitment_verifies, features_commitment
from decisions.models import MIN_RETENTION_DAYS, Decision, ModelVersion
from decisions.recording import DecisionInput
from explanations.drain import explanation_drain
from explanations.models import Explanation
from explanations.recording import decision_record_many
from oversight.erasure import subject_erase
from oversight.exports import export_path
from oversight.retention import retention_erase_expired
from reviews.services import casework, requests
from tests.conftest import client_for
from tests.oversight.test_exports import jsonl, run

pytestmark = pytest.mark.django_db
SUBJECT = "erase-me-4711"
AMOUNT = 17333  # a credit amount no other row, schema or model holds
STATEMENT = "Quokka statement: my employer Zanzibar Widgets pays me more than this says."
REPLY = "Quokka reply: here is my payslip from Zanzibar Widgets."
EMAIL = "quokka.person@example.org"
REASON = "Art. 17(1)(b): consent withdrawn"


@pytest.fixture
def mine(credit_version, credit_trained, caseworker):
    """The subject's decision with a contest, a question and their reply; and someone else's."""
    features = dict(credit_trained.sample_rows[0], credit_amount=AMOUNT)
    items = [
        DecisionInput(model="credit-risk", features=features, subject_ref=SUBJECT),
        DecisionInput(model="credit-risk", features=dict(credit_trained.sample_rows[1]), subject_ref="other"),
    ]
    recorded = decision_record_many(items=items, actor=Actor.system("tests"))
    explanation_drain(model_version_id=credit_version.pk)
    request = requests.review_request_create(
        decision=recorded[0].decision,
        kind="contest",
        grounds="data_wrong",
        statement=STATEMENT,
        contact_email=EMAIL,
    )
    casework.review_take(request=request, user=caseworker)
    casework.review_request_information(
        request=request, user=caseworker, question="Can you show your income?"
    )
    requests.review_subject_reply(request=request, statement=REPLY)
    return recorded[0], request


def age(decision: Decision, days: int) -> None:
    Decision.objects.filter(pk=decision.pk).update(decided_at=timezone.now() - timedelta(days=days))


def columns_holding(term: str) -> list[str]:
    """Every text and JSON column of every model whose value contains `term`."""
    found = []
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                # Tokens in the column: the text is looked for in what they decrypt to.
                hit = any(term in value for value in model.objects.values_list(field.attname, flat=True))
            elif isinstance(field, models.JSONField):
                rows = model.objects.annotate(_text=Cast(field.attname, models.TextField()))
                hit = rows.filter(_text__contains=term).exists()
            elif isinstance(field, models.CharField | models.TextField):
                hit = model.objects.filter(**{f"{field.attname}__contains": term}).exists()
            else:
                continue
            if hit:
                found.append(f"{model._meta.label}.{field.attname}")
    return found


def test_erasure_leaves_no_personal_data_in_any_table_and_the_chain_verifies(mine):
    recorded, request = mine
    age(recorded.decision, MIN_RETENTION_DAYS + 1)
    terms = [str(AMOUNT), STATEMENT, REPLY, EMAIL]
    # Before: the scan finds each of them, so an empty scan after means something.
    assert {term: bool(columns_holding(term)) for term in terms} == dict.fromkeys(terms, True)

    results = subject_erase(subject_ref=SUBJECT, actor=Actor.system("tests"), reason=REASON)

    assert [(str(r.decision.pk), r.state, r.until) for r in results] == [
        (str(recorded.decision.pk), "erased", None)
    ]
    assert {term: columns_holding(term) for term in terms} == {term: [] for term in terms}
    erased = Decision.objects.get(pk=recorded.decision.pk)
    assert (
        erased.features == {} and erased.personal_data_erased_at is not None and erased.restricted_at is None
    )
    assert (erased.outcome, erased.score, erased.features_commitment) == (
        recorded.decision.outcome,
        recorded.decision.score,
        recorded.decision.features_commitment,
    )
    assert Decision.objects.get(subject_ref="other").features != {}  # someone else's stays
    event = AuditEvent.objects.get(action=Action.SUBJECT_ERASURE)
    assert (event.object_type, event.object_id) == ("subject", canonical_sha256(SUBJECT))
    assert event.data == {
        "reason": REASON,
        "decisions": 1,
        "erased": 1,
        "restricted": 0,
        "already_erased": 0,
        "explanations_erased": 1,
        "review_requests_erased": 1,
    }
    result = verify_chain()
    assert result.ok, result.describe()


def test_a_young_decision_is_restricted_hidden_from_caseworkers_shown_to_auditors_then_erased(
    mine, caseworker, auditor, client
):
    recorded, request = mine
    ModelVersion.objects.filter(pk=recorded.decision.model_version_id).update(retention_days=400)
    decided_at = Decision.objects.get(pk=recorded.decision.pk).decided_at

    results = subject_erase(subject_ref=SUBJECT, actor=Actor.system("tests"), reason=REASON)

    until = decided_at + timedelta(days=MIN_RETENTION_DAYS)
    assert [(r.state, r.until) for r in results] == [("restricted", until)]
    restricted = Decision.objects.get(pk=recorded.decision.pk)
    assert restricted.features["credit_amount"] == AMOUNT and restricted.restricted_at is not None

    page = client_for(caseworker).get(f"/cases/{request.reference}/").content.decode()
    assert "Restricted on the person's request" in page
    for personal in (STATEMENT, REPLY, "17333", "17,333", 'id="data-title"'):
        assert personal not in page
    queue = client_for(caseworker).get("/cases/").content.decode()
    assert "restricted on the person's request" in queue

    # The auditors' export still holds it, flagged.
    line = next(row for row in jsonl(run(auditor, "decisions")) if row["id"] == str(recorded.decision.pk))
    assert line["features"]["credit_amount"] == AMOUNT and line["restricted_at"] is not None

    # The person is told which and why.
    subject_page = client.get(f"/access/{recorded.access_token}/", follow=True).content.decode()
    assert "Your data is restricted" in subject_page and "EU AI Act" in subject_page
    assert until.strftime("%Y") in subject_page

    # Asked again: nothing changes; the retention job erases it when the six months end, even
    # though the version keeps decisions longer.
    again = subject_erase(subject_ref=SUBJECT, actor=Actor.system("tests"), reason=REASON)
    assert [(r.state, r.until) for r in again] == [("restricted", until)]
    assert Decision.objects.get(pk=restricted.pk).restricted_at == restricted.restricted_at
    assert retention_erase_expired(now=until - timedelta(days=1))["decisions"] == 0
    assert retention_erase_expired(now=until + timedelta(days=1))["decisions"] == 1
    erased = Decision.objects.get(pk=restricted.pk)
    assert erased.features == {} and erased.personal_data_erased_at is not None
    assert Explanation.objects.get(decision=erased).raw_values == []
    assert columns_holding(STATEMENT) == [] and columns_holding(EMAIL) == []
    assert Decision.objects.get(subject_ref="other").personal_data_erased_at is None
    assert (
        "Your data was erased"
        in client.get(f"/access/{recorded.access_token}/", follow=True).content.decode()
    )
    result = verify_chain()
    assert result.ok, result.describe()


def test_the_api_answers_each_decisions_state_and_what_remains(mine, integration):
    recorded, _ = mine
    response = integration.post(
        "/api/v1/subjects/erasure/",
        data=json.dumps({"subject_ref": SUBJECT, "reason": REASON}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    decided_at = Decision.objects.get(pk=recorded.decision.pk).decided_at
    assert [(d["decision"], d["state"], d["restricted_until"]) for d in body["decisions"]] == [
        (
            str(recorded.decision.pk),
            "restricted",
            (decided_at + timedelta(days=MIN_RETENTION_DAYS)).isoformat(),
        )
    ]
    assert (body["erased"], body["restricted"]) == (0, 1)
    assert "six months" in body["why_restricted"] and body["not_covered"]
    event = AuditEvent.objects.get(action=Action.SUBJECT_ERASURE)
    assert event.actor_type == "api_key"

    unknown = integration.post(
        "/api/v1/subjects/erasure/", data={"subject_ref": "nobody-here", "reason": REASON}, format="json"
    )
    assert unknown.status_code == 404
    no_reason = integration.post("/api/v1/subjects/erasure/", data={"subject_ref": SUBJECT}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["errors"]


def test_only_the_controllers_system_calls_the_api(mine, client, caseworker, auditor, nobody):
    body = {"subject_ref": SUBJECT, "reason": REASON}
    assert client.post("/api/v1/subjects/erasure/", body).status_code in (401, 403)
    for user in (caseworker, auditor, nobody):
        assert client_for(user).post("/api/v1/subjects/erasure/", body, format="json").status_code == 403
    assert Decision.objects.get(subject_ref=SUBJECT).restricted_at is None
    assert not AuditEvent.objects.filter(action=Action.SUBJECT_ERASURE).exists()


def test_the_auditor_page_erases_and_lists_what_remains(mine, client, caseworker, nobody, auditor):
    recorded, _ = mine
    age(recorded.decision, MIN_RETENTION_DAYS + 10)
    body = {"subject_ref": SUBJECT, "reason": REASON}
    anonymous = client.post("/audit/erasure/", body)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert client_for(caseworker).post("/audit/erasure/", body).status_code == 403
    assert client_for(nobody).get("/audit/erasure/").status_code == 403
    assert Decision.objects.get(subject_ref=SUBJECT).personal_data_erased_at is None

    page = client_for(auditor).post("/audit/erasure/", body)
    text = page.content.decode()
    assert page.status_code == 200 and str(recorded.decision.pk) in text
    assert "<td>erased</td>" in text and "What remains of an erased decision" in text
    assert Decision.objects.get(subject_ref=SUBJECT).personal_data_erased_at is not None
    assert AuditEvent.objects.get(action=Action.SUBJECT_ERASURE).actor_id == str(auditor.pk)

    refused = client_for(auditor).post("/audit/erasure/", {"subject_ref": "nobody-here", "reason": REASON})
    assert "no decisions about this subject" in refused.content.decode()


def _erase_on_request(decision: Decision) -> None:
    age(decision, MIN_RETENTION_DAYS + 1)
    subject_erase(subject_ref=SUBJECT, actor=Actor.system("tests"), reason=REASON)


def _erase_by_retention(decision: Decision) -> None:
    age(decision, decision.model_version.retention_days + 1)
    retention_erase_expired()


@pytest.mark.parametrize("erase", [_erase_on_request, _erase_by_retention])
def test_after_erasure_the_features_commitment_can_no_longer_be_recomputed(mine, auditor, erase):
    recorded, _ = mine
    before = Decision.objects.get(pk=recorded.decision.pk)
    features = before.features
    unsalted = hashlib.sha256(
        json.dumps(features, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert before.features_commitment == features_commitment(
        key=bytes(before.features_key), features=features
    )

    erase(before)

    after = Decision.objects.get(pk=recorded.decision.pk)
    assert (after.features_key, after.features, after.features_commitment) == (
        None,
        {},
        before.features_commitment,
    )
    assert (
        commitment_verifies(key=after.features_key, features=features, commitment=after.features_commitment)
        is None
    )
    # The unkeyed digest a guesser could test is nowhere: not on the row, not in any event of the
    # chain, not in the auditors' export.
    row = Decision.objects.filter(pk=after.pk).values().get()
    assert unsalted not in repr(row)
    assert not [e.pk for e in AuditEvent.objects.all() if unsalted in json.dumps(e.data)]
    assert unsalted not in export_path(run(auditor, "decisions")).read_text()
