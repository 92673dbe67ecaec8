"""The Article 22 workflow's services: requests, deadlines (Art. 12(3)), reviews, the ledger."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from audit.chain import verify_chain
from audit.models import Action, AuditEvent
from audit.services import Actor, canonical_sha256
from config.errors import ApplicationError
from decisions import selectors as decisions_selectors
from decisions import subject_access
from decisions.commitments import keyed_commitment
from decisions.models import Decision
from decisions.recording import DecisionInput
from explanations.drain import explanation_drain
from explanations.recording import decision_record_many
from reviews import automation_bias, deadlines, status_links
from reviews.models import CaseAction, ReviewRequest
from reviews.services import casework, requests

pytestmark = pytest.mark.django_db


@pytest.fixture
def decided(credit_version, credit_trained):
    """Three real applicants' decisions, explained (the worker's body, called directly)."""
    items = [
        DecisionInput(model="credit-risk", features=row, subject_ref=f"applicant-{i}")
        for i, row in enumerate(credit_trained.sample_rows[:3])
    ]
    recorded = decision_record_many(items=items, actor=Actor.system("tests"))
    explanation_drain(model_version_id=credit_version.pk)
    return recorded


def contest(decision, **kwargs) -> ReviewRequest:
    return requests.review_request_create(
        decision=decision,
        kind=kwargs.pop("kind", ReviewRequest.Kind.CONTEST),
        grounds=kwargs.pop("grounds", ReviewRequest.Grounds.DATA_WRONG),
        statement=kwargs.pop("statement", "My savings are over 1000 DM; the bank statement shows it."),
        **kwargs,
    )


def actions_of(request) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_type="review_request", object_id=str(request.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


RATIONALE = "I checked the bank statement the applicant sent: savings are 1,200 DM, so the data was wrong."


# ---------------------------------------------------------------------------- Art. 12(3) dates
@pytest.mark.parametrize(
    ("received", "due"),
    [
        (datetime(2026, 1, 15, 10, 0, tzinfo=UTC), datetime(2026, 2, 15, 10, 0, tzinfo=UTC)),
        (datetime(2026, 1, 31, 9, 30, tzinfo=UTC), datetime(2026, 2, 28, 9, 30, tzinfo=UTC)),
        (datetime(2028, 1, 31, 9, 30, tzinfo=UTC), datetime(2028, 2, 29, 9, 30, tzinfo=UTC)),
        (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), datetime(2027, 1, 31, 23, 0, tzinfo=UTC)),
    ],
)
def test_an_answer_is_due_one_calendar_month_after_receipt(received, due):
    assert deadlines.due_date_for(received) == due


def test_a_request_is_recorded_with_its_reference_and_due_date(decided):
    decision = decided[0].decision
    before = timezone.now()
    request = contest(decision)
    assert request.reference.startswith("R-") and len(request.reference) == 10
    assert before <= request.received_at <= timezone.now()
    assert request.due_at == deadlines.add_months(request.received_at, 1) == request.original_due_at
    assert request.status == ReviewRequest.Status.RECEIVED and request.extension_months == 0
    assert [a.kind for a in request.actions.all()] == [CaseAction.Kind.RECEIVED]
    event = AuditEvent.objects.get(action=Action.REVIEW_REQUESTED)
    assert event.actor_type == "subject" and event.actor_id == str(decision.pk)
    assert event.data["reference"] == request.reference and event.data["kind"] == "contest"
    # The statement is personal data: the chain holds a commitment under the decision's key
    # (erased with it), never the text or its plain hash, which a short statement would give away.
    statement = "My savings are over 1000 DM; the bank statement shows it."
    assert "bank statement" not in str(event.data) and canonical_sha256(statement) not in str(event.data)
    decision.refresh_from_db()
    assert event.data["statement_commitment"] == keyed_commitment(key=decision.features_key, value=statement)


def test_contest_needs_grounds_and_a_statement(decided):
    decision = decided[0].decision
    with pytest.raises(ApplicationError) as missing_grounds:
        contest(decision, grounds="")
    assert "grounds" in missing_grounds.value.fields
    with pytest.raises(ApplicationError) as missing_text:
        contest(decision, statement="   ")
    assert missing_text.value.fields == {"statement": "this field is required"}
    assert not ReviewRequest.objects.exists() and not AuditEvent.objects.filter(
        action=Action.REVIEW_REQUESTED
    )


def test_human_intervention_needs_no_statement_and_duplicates_are_refused(decided):
    decision = decided[0].decision
    first = requests.review_request_create(decision=decision, kind=ReviewRequest.Kind.HUMAN_INTERVENTION)
    with pytest.raises(ApplicationError) as duplicate:
        requests.review_request_create(decision=decision, kind=ReviewRequest.Kind.HUMAN_INTERVENTION)
    assert duplicate.value.status_code == 409 and first.reference in duplicate.value.fields["kind"]


def test_extension_within_the_first_month_by_at_most_two_months_with_reasons(decided, caseworker):
    request = contest(decided[0].decision)
    with pytest.raises(ApplicationError) as no_reason:
        casework.review_extend(request=request, user=caseworker, months=1, reason="busy")
    assert "reason" in no_reason.value.fields
    with pytest.raises(ApplicationError):
        casework.review_extend(request=request, user=caseworker, months=3, reason="x" * 40)
    reason = "We must obtain the applicant's file from the archive, which takes several weeks."
    extended = casework.review_extend(request=request, user=caseworker, months=1, reason=reason)
    assert extended.due_at == deadlines.add_months(request.original_due_at, 1)
    assert extended.extension_months == 1 and extended.extension_reason == reason
    twice = casework.review_extend(request=extended, user=caseworker, months=1, reason=reason)
    assert twice.due_at == deadlines.add_months(request.original_due_at, 2)
    assert twice.due_at == deadlines.add_months(request.received_at, 3)  # three months in all
    with pytest.raises(ApplicationError) as third:
        casework.review_extend(request=twice, user=caseworker, months=1, reason=reason)
    assert "at most 2 further months" in third.value.fields["months"]
    assert actions_of(request).count(Action.REVIEW_EXTENDED) == 2


def test_no_extension_after_the_first_month(decided, caseworker):
    request = contest(decided[0].decision)
    late = timezone.now() - timedelta(days=40)
    ReviewRequest.objects.filter(pk=request.pk).update(
        received_at=late, due_at=deadlines.due_date_for(late), original_due_at=deadlines.due_date_for(late)
    )
    request.refresh_from_db()
    assert not deadlines.can_extend(request)
    with pytest.raises(ApplicationError) as refused:
        casework.review_extend(
            request=request, user=caseworker, months=1, reason="The archive is slow to send the file."
        )
    assert "within one month of receipt" in refused.value.fields["months"]
    request.refresh_from_db()
    assert request.extension_months == 0 and deadlines.is_overdue(request)


def test_an_extended_request_is_not_extended_again_once_its_first_month_is_over(decided, caseworker):
    """Art. 12(3): extensions are given within the first month. A request already extended by one
    month, whose original due date has passed but whose extended one has not, gets no second."""
    request = contest(decided[0].decision)
    reason = "We must obtain the applicant's file from the archive, which takes several weeks."
    casework.review_extend(request=request, user=caseworker, months=1, reason=reason)
    received = timezone.now() - timedelta(days=40)
    original_due = deadlines.due_date_for(received)
    ReviewRequest.objects.filter(pk=request.pk).update(
        received_at=received, original_due_at=original_due, due_at=deadlines.add_months(original_due, 1)
    )
    request.refresh_from_db()
    assert request.original_due_at < timezone.now() < request.due_at
    assert not deadlines.can_extend(request)
    with pytest.raises(ApplicationError) as refused:
        casework.review_extend(request=request, user=caseworker, months=1, reason=reason)
    assert "within one month of receipt" in refused.value.fields["months"]
    request.refresh_from_db()
    assert request.extension_months == 1 and request.due_at == deadlines.add_months(original_due, 1)


# ---------------------------------------------------------------------------- the review
def test_uphold_closes_the_request_with_the_rationale(decided, caseworker):
    request = contest(decided[0].decision)
    casework.review_take(request=request, user=caseworker)
    with pytest.raises(ApplicationError) as short:
        casework.review_uphold(request=request, user=caseworker, rationale="ok")
    assert "at least" in short.value.fields["rationale"]
    done = casework.review_uphold(request=request, user=caseworker, rationale=RATIONALE)
    assert done.status == ReviewRequest.Status.UPHELD and done.rationale == RATIONALE and done.closed_at
    step = done.actions.get(kind=CaseAction.Kind.UPHELD)
    assert step.actor == caseworker and step.agrees_with_model is True and step.seconds_spent >= 0
    assert actions_of(request) == [Action.REVIEW_REQUESTED, Action.REVIEW_TAKEN, Action.REVIEW_UPHELD]
    with pytest.raises(ApplicationError) as again:
        casework.review_uphold(request=done, user=caseworker, rationale=RATIONALE)
    assert again.value.status_code == 409


def test_overturn_records_a_human_decision_that_supersedes_the_original(decided, caseworker):
    original = decided[0].decision
    request = contest(original)
    new_outcome = "approved" if original.outcome == "refused" else "refused"
    done = casework.review_overturn(
        request=request, user=caseworker, new_outcome=new_outcome, rationale=RATIONALE
    )
    human = done.human_decision
    assert done.status == ReviewRequest.Status.OVERTURNED and done.rationale == RATIONALE
    assert human.kind == Decision.Kind.HUMAN and human.supersedes_id == original.pk
    assert human.outcome == new_outcome and human.favourable == (new_outcome == "approved")
    assert human.features == original.features and human.subject_ref == original.subject_ref
    assert decisions_selectors.effective_decision(original) == human
    # The ledger keeps both: the original is unchanged.
    original.refresh_from_db()
    assert original.outcome != new_outcome and original.kind == Decision.Kind.AUTOMATED
    recorded = AuditEvent.objects.get(action=Action.DECISION_RECORDED, object_id=str(human.pk))
    assert recorded.data["supersedes"] == str(original.pk) and recorded.data["kind"] == "human"
    overturned = AuditEvent.objects.get(action=Action.REVIEW_OVERTURNED)
    assert overturned.id > recorded.id and overturned.data["human_decision"] == str(human.pk)
    assert done.actions.get(kind=CaseAction.Kind.OVERTURNED).agrees_with_model is False
    with pytest.raises(ApplicationError):
        casework.review_overturn(
            request=contest(original, kind=ReviewRequest.Kind.VIEW, grounds=""),
            user=caseworker,
            new_outcome=new_outcome,  # already the outcome in force
            rationale=RATIONALE,
        )
    assert verify_chain().ok


def test_ask_the_subject_and_their_reply(decided, caseworker):
    request = contest(decided[0].decision)
    question = "Please tell us the balance of your savings account on the day you applied."
    asked = casework.review_request_information(request=request, user=caseworker, question=question)
    assert asked.status == ReviewRequest.Status.INFO_REQUESTED and asked.assignee == caseworker
    assert asked.info_question == question
    replied = requests.review_subject_reply(request=asked, statement="1,200 DM on 3 March.")
    assert replied.status == ReviewRequest.Status.IN_REVIEW
    assert replied.actions.get(kind=CaseAction.Kind.SUBJECT_REPLIED).rationale == "1,200 DM on 3 March."
    with pytest.raises(ApplicationError):
        requests.review_subject_reply(request=replied, statement="again")
    assert actions_of(request) == [
        Action.REVIEW_REQUESTED,
        Action.REVIEW_INFO_REQUESTED,
        Action.REVIEW_SUBJECT_REPLIED,
    ]


def test_another_caseworkers_case_and_non_caseworkers_are_refused(decided, caseworker, auditor, nobody):
    from decisions.accounts import user_create

    other = user_create(username="otto", role="caseworker", password="pw-otto", actor=Actor.system("t"))
    request = contest(decided[0].decision)
    casework.review_take(request=request, user=caseworker)
    with pytest.raises(ApplicationError) as taken:
        casework.review_uphold(request=request, user=other, rationale=RATIONALE)
    assert taken.value.status_code == 409
    for user in (auditor, nobody):
        with pytest.raises(ApplicationError) as refused:
            casework.review_take(request=request, user=user)
        assert refused.value.status_code == 403


def test_emails_carry_the_link_and_follow_up_links_open_only_that_request(
    decided, caseworker, django_capture_on_commit_callbacks
):
    recorded = decided[0]
    with django_capture_on_commit_callbacks(execute=True):
        request = contest(
            recorded.decision, contact_email="person@example.org", access_token=recorded.access_token
        )
    assert len(mail.outbox) == 1
    receipt = mail.outbox[0]
    assert receipt.to == ["person@example.org"] and request.reference in receipt.subject
    assert recorded.subject_access_url in receipt.body
    assert request.due_at.strftime("%-d %B %Y") in receipt.body
    with django_capture_on_commit_callbacks(execute=True):
        casework.review_extend(
            request=request, user=caseworker, months=2, reason="We need the archived file from our branch."
        )
        casework.review_uphold(request=request, user=caseworker, rationale=RATIONALE)
    extension, outcome = mail.outbox[1:]
    assert "archived file" in extension.body and RATIONALE in outcome.body
    link = outcome.body.split("http://127.0.0.1:8000", 1)[1].split()[0]
    assert recorded.access_token not in outcome.body  # never stored, so never in a later e-mail
    signed = link.rstrip("/").rsplit("/", 1)[1]
    assert status_links.review_request_from_status_link(signed) == request
    assert status_links.review_request_from_status_link(signed[:-2] + "xx") is None
    subject_access.subject_access_revoke(decision=recorded.decision, actor=Actor.system("tests"))
    assert status_links.review_request_from_status_link(signed) is None


def test_no_email_without_an_address(decided, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        contest(decided[0].decision)
    assert mail.outbox == []


def test_erasure_blanks_what_the_subject_wrote(decided, caseworker):
    request = contest(decided[0].decision, contact_email="person@example.org")
    other = contest(decided[1].decision)
    casework.review_request_information(
        request=request, user=caseworker, question="Which account is it, please?"
    )
    requests.review_subject_reply(request=request, statement="The one ending 4411.")
    assert requests.reviews_erase_personal_data(decision_ids=[decided[0].decision.pk]) == 1
    request.refresh_from_db()
    other.refresh_from_db()
    assert request.statement == "" and request.contact_email == ""
    assert request.actions.get(kind=CaseAction.Kind.SUBJECT_REPLIED).rationale == ""
    assert other.statement != ""
    assert AuditEvent.objects.filter(action=Action.REVIEW_PERSONAL_DATA_ERASED).count() == 1
    assert requests.reviews_erase_personal_data(decision_ids=[decided[0].decision.pk]) == 0


def test_automation_bias_flags_fast_near_total_agreement(credit_version, credit_trained, caseworker):
    from decisions.accounts import user_create

    careful = user_create(username="carla", role="caseworker", password="pw-carla", actor=Actor.system("t"))
    items = [
        DecisionInput(model="credit-risk", features=row, subject_ref=f"s-{i}")
        for i, row in enumerate(credit_trained.sample_rows[:22])
    ]
    recorded = decision_record_many(items=items, actor=Actor.system("tests"))
    for i, r in enumerate(recorded):
        request = requests.review_request_create(
            decision=r.decision, kind=ReviewRequest.Kind.HUMAN_INTERVENTION
        )
        if i < 11:  # casey: takes and upholds at once, every time
            casework.review_uphold(request=request, user=caseworker, rationale=RATIONALE)
        else:  # carla: takes ten minutes, and overturns some
            casework.review_take(request=request, user=careful)
            ReviewRequest.objects.filter(pk=request.pk).update(
                assigned_at=timezone.now() - timedelta(minutes=10)
            )
            if i % 3 == 0:
                other = next(o for o in ("approved", "refused") if o != r.decision.outcome)
                casework.review_overturn(
                    request=request, user=careful, new_outcome=other, rationale=RATIONALE
                )
            else:
                casework.review_uphold(request=request, user=careful, rationale=RATIONALE)
    signals = {s.username: s for s in automation_bias.automation_bias_signals()}
    assert signals["casey"].cases == 11 and signals["casey"].agreement_rate == 1.0
    assert signals["casey"].median_seconds < 5 and signals["casey"].rubber_stamping is True
    assert signals["carla"].cases == 11 and signals["carla"].overturned == 4
    assert signals["carla"].agreement_rate == pytest.approx(7 / 11)
    assert signals["carla"].median_seconds >= 600 and signals["carla"].rubber_stamping is False
