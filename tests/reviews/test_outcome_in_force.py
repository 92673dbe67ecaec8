"""One outcome in force: a decision's history is one line (automated -> human -> human), a later
review works on the outcome in force and is shown the earlier one, and every change reaches the
person, on their page and by e-mail, in their language.

The rule for a second review of a decision already changed: it works on the outcome in force (the
human one). Overturning supersedes that human decision, never an older one; a caseworker who saw
an outcome that has since changed is refused; two reviews deciding at once take turns on a lock
of the decision's original; and the database refuses a second decision superseding the same one.
"""

import re
import threading
import time

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.template.loader import render_to_string
from django.utils import translation

from audit.chain import verify_chain
from audit.models import Action, AuditEvent
from audit.services import Actor
from config.errors import ApplicationError
from decisions.accounts import user_create
from decisions.credentials import new_access_token, secret_hash
from decisions.models import Decision
from decisions.recording import DecisionInput, decision_record_human
from decisions.selectors import decision_chain, effective_decision
from explanations.recording import decision_record_many
from reviews.history import outcome_history
from reviews.models import CaseAction, ReviewRequest
from reviews.presentation import case_presentation, decision_presentation
from reviews.selectors import review_queue
from reviews.services import casework, requests

pytestmark = pytest.mark.django_db
FIRST = "The payslips show a regular income of 3,100 DM, so the loan is affordable after all."
SECOND = "The payslips were for a job that ended in March; without it the loan is not affordable."


@pytest.fixture
def decision(credit_version, credit_trained) -> Decision:
    (recorded,) = decision_record_many(
        items=[DecisionInput(model="credit-risk", features=credit_trained.sample_rows[0], subject_ref="p-1")],
        actor=Actor.system("tests"),
    )
    return recorded.decision


@pytest.fixture
def colleague(db):
    return user_create(username="otto", role="caseworker", password="pw-otto", actor=Actor.system("tests"))


def other_than(outcome: str) -> str:
    return "approved" if outcome == "refused" else "refused"


def ask(decision, kind="contest", **kwargs) -> ReviewRequest:
    return requests.review_request_create(
        decision=decision,
        kind=kind,
        grounds="data_wrong" if kind == "contest" else "",
        statement="My income was recorded wrongly." if kind != "human_intervention" else "",
        **kwargs,
    )


def text(html: str) -> str:
    return re.sub(r"\s+", " ", html).replace("&ldquo;", "“").replace("&rdquo;", "”")


def test_a_second_overturn_supersedes_the_human_outcome_in_force_and_says_so(
    decision, caseworker, colleague, django_capture_on_commit_callbacks
):
    automated = decision.outcome
    with django_capture_on_commit_callbacks(execute=True):
        first = ask(decision, contact_email="person@example.org")
    second = ask(decision, kind="human_intervention")  # no address given this time
    with django_capture_on_commit_callbacks(execute=True):
        casework.review_overturn(
            request=first, user=caseworker, new_outcome=other_than(automated), rationale=FIRST
        )
    with django_capture_on_commit_callbacks(execute=True):
        casework.review_overturn(request=second, user=colleague, new_outcome=automated, rationale=SECOND)
    first.refresh_from_db()
    second.refresh_from_db()
    # One line: the second human decision replaces the first, not the automated one.
    assert decision_chain(decision) == [decision, first.human_decision, second.human_decision]
    assert second.human_decision.supersedes_id == first.human_decision_id
    assert effective_decision(decision) == second.human_decision
    closing = second.actions.get(kind=CaseAction.Kind.OVERTURNED)
    assert closing.data["from"] == other_than(automated) and closing.data["to"] == automated
    assert closing.data["supersedes"] == str(first.human_decision_id)
    assert closing.data["earlier_review"] == first.reference and closing.data["role"] == "caseworker"
    assert closing.agrees_with_model is None  # a person's outcome changed, not the model's
    event = AuditEvent.objects.get(action=Action.REVIEW_OVERTURNED, object_id=str(second.pk))
    assert event.data["supersedes"] == str(first.human_decision_id)
    assert verify_chain().ok
    # The person is told of both changes at the address on file, with the outcome that now holds.
    receipt, changed, changed_back = mail.outbox
    assert [m.to for m in mail.outbox] == [["person@example.org"]] * 3
    assert second.reference in changed_back.subject
    body = changed_back.body
    assert f"They changed the outcome from “{other_than(automated)}” to “{automated}”" in body
    assert f"decided by a person on review of your request {first.reference}" in body
    assert f"The outcome that holds now: “{automated}”." in body and SECOND in body
    assert f"The outcome that holds now: “{other_than(automated)}”." in changed.body and FIRST in changed.body


def test_the_database_and_the_ledger_refuse_a_fork(decision, caseworker):
    request = ask(decision)
    casework.review_overturn(
        request=request, user=caseworker, new_outcome=other_than(decision.outcome), rationale=FIRST
    )
    with pytest.raises(ApplicationError) as replaced:
        with transaction.atomic():
            decision_record_human(
                reviewed=decision,
                outcome=decision.outcome,
                actor=Actor.user(caseworker),
                now=decision.decided_at,
            )
    assert replaced.value.status_code == 409
    rival = Decision.objects.get(pk=decision.pk)
    rival.pk, rival.kind, rival.supersedes = None, Decision.Kind.HUMAN, decision
    rival.access_token_hash = "f" * 64
    with pytest.raises(IntegrityError), transaction.atomic():
        rival.save(force_insert=True)
    assert Decision.objects.filter(supersedes=decision).count() == 1


def test_a_caseworker_who_saw_an_outcome_since_changed_is_refused_until_they_read_the_earlier_review(
    decision, caseworker, colleague
):
    first, second = ask(decision), ask(decision, kind="view")
    seen = effective_decision(decision).pk  # what the colleague's case page showed
    first = casework.review_overturn(
        request=first, user=caseworker, new_outcome=other_than(decision.outcome), rationale=FIRST
    )
    with pytest.raises(ApplicationError) as stale:
        casework.review_overturn(
            request=second,
            user=colleague,
            new_outcome=decision.outcome,
            rationale=SECOND,
            expected_in_force=str(seen),
        )
    assert stale.value.status_code == 409 and "earlier review" in stale.value.fields["in_force"]
    second.refresh_from_db()
    assert second.is_open and decision_chain(decision)[-1].outcome == other_than(decision.outcome)
    # The case page now shows them the earlier review: what, who, why, when.
    context = {**decision_presentation(decision), **case_presentation(second)}
    (earlier,) = context["earlier_reviews"]
    assert (earlier["kind"], earlier["request"], earlier["rationale"]) == ("changed", first.reference, FIRST)
    assert earlier["outcome"] == other_than(decision.outcome) and earlier["reviewer"] == caseworker
    assert earlier["at"] == first.human_decision.decided_at and earlier["current"] is True
    assert context["in_force"] == effective_decision(decision)
    # Upholding now upholds the person's outcome, not the model's.
    in_force = context["in_force"]
    done = casework.review_uphold(
        request=second, user=colleague, rationale=SECOND, expected_in_force=str(in_force.pk)
    )
    closing = done.actions.get(kind=CaseAction.Kind.UPHELD)
    assert closing.data["decision"] == str(in_force.pk) and closing.data["outcome"] == in_force.outcome
    assert closing.data["earlier_review"] == first.reference and closing.agrees_with_model is None
    assert effective_decision(decision) == in_force


@pytest.mark.django_db(transaction=True)
def test_two_reviews_deciding_at_once_take_turns_and_never_fork(decision, caseworker, colleague):
    """The colleague decides while the caseworker's overturn is recorded but not yet committed.
    They wait on the lock of the decision's original, then work on the outcome it left."""
    first, second = ask(decision), ask(decision, kind="view")
    changed = other_than(decision.outcome)
    outcome: dict = {}

    def colleague_decides():
        try:
            casework.review_overturn(request=second, user=colleague, new_outcome=changed, rationale=SECOND)
        except Exception as exc:  # noqa: BLE001 - what they got is what the test checks
            outcome["error"] = exc
        finally:
            connection.close()

    with transaction.atomic():
        casework.review_overturn(request=first, user=caseworker, new_outcome=changed, rationale=FIRST)
        thread = threading.Thread(target=colleague_decides)
        thread.start()
        _wait_until_a_backend_waits_on_a_lock(outcome)
    thread.join()
    # They were told the outcome is already the one they chose, not handed a database error.
    assert isinstance(outcome["error"], ApplicationError), outcome
    assert "outcome in force" in outcome["error"].fields["new_outcome"]
    assert [d.outcome for d in decision_chain(decision)] == [decision.outcome, changed]
    assert Decision.objects.filter(supersedes=decision).count() == 1


def _wait_until_a_backend_waits_on_a_lock(outcome) -> None:
    deadline = time.monotonic() + 60  # a bound on a wait, not a measurement
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            # Inside a transaction the activity view is a snapshot: take a fresh one each time.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError(f"the second review never waited for the first: {outcome}")


def test_the_page_follows_the_outcome_in_force_and_shows_every_step(decision, caseworker, colleague, client):
    first, second = ask(decision), ask(decision, kind="view")
    automated = decision.outcome
    shown = text(render_to_string("reviews/_outcome_history.html", decision_presentation(decision)))
    assert "By an automated system, without a person taking part" in shown
    assert "Every step" not in shown
    casework.review_overturn(
        request=first, user=caseworker, new_outcome=other_than(automated), rationale=FIRST
    )
    casework.review_overturn(request=second, user=colleague, new_outcome=automated, rationale=SECOND)
    context = decision_presentation(decision)
    assert context["in_force"] == effective_decision(decision) and context["how_decided"]["by_person"]
    assert [(s["kind"], s["outcome"], s["request"]) for s in context["history"]] == [
        ("automated", automated, ""),
        ("changed", other_than(automated), first.reference),
        ("changed", automated, second.reference),
    ]
    shown = text(render_to_string("reviews/_outcome_history.html", context))
    assert "without a person taking part" not in shown
    assert "By a person (role: caseworker), who reviewed the decision and changed its outcome on" in shown
    assert f"Outcome in force: <strong>{automated}</strong>" in shown
    assert f"changed the outcome from “{other_than(automated)}” to “{automated}”" in shown
    # The first change says it no longer holds, and which review changed it.
    assert f"it was changed later, on review of your request {second.reference}" in shown
    assert FIRST in shown and SECOND in shown
    assert "casey" not in shown and "otto" not in shown  # the role, never the name
    assert all("reviewer" not in step for step in context["history"])
    # The subject's page shows it where it says how the decision was taken.
    page = client.get(f"/access/{_token_of(decision)}/", follow=True)
    assert page.status_code == 200 and page.context["in_force"] == effective_decision(decision)
    on_page = text(page.content.decode())
    assert "By a person (role: caseworker), who reviewed the decision" in on_page
    assert "without a person taking part" not in on_page and FIRST in on_page and SECOND in on_page


def _token_of(decision) -> str:
    token = new_access_token()
    Decision.objects.filter(pk=decision.pk).update(access_token_hash=secret_hash(token))
    return token


def test_an_upheld_automated_outcome_says_a_person_confirmed_it(decision, caseworker):
    casework.review_uphold(request=ask(decision), user=caseworker, rationale=FIRST)
    context = decision_presentation(decision)
    assert (
        not context["how_decided"]["by_person"] and context["how_decided"]["confirmed"]["rationale"] == FIRST
    )
    shown = text(render_to_string("reviews/_outcome_history.html", context))
    assert "By an automated system; a person (role: caseworker) then reviewed it and confirmed" in shown
    assert "without a person taking part" not in shown


def test_every_change_is_e_mailed_in_the_persons_language(
    decision, caseworker, django_capture_on_commit_callbacks
):
    automated = decision.outcome
    with django_capture_on_commit_callbacks(execute=True):
        first = ask(decision, contact_email="person@example.org", language="de")
    with django_capture_on_commit_callbacks(execute=True):
        casework.review_overturn(
            request=first, user=caseworker, new_outcome=other_than(automated), rationale=FIRST
        )
    second = ask(decision, kind="view", language="de")
    with django_capture_on_commit_callbacks(execute=True):
        casework.review_uphold(request=second, user=caseworker, rationale=SECOND)
    _, changed, confirmed = mail.outbox
    assert changed.to == confirmed.to == ["person@example.org"]
    assert "Das Ergebnis, das jetzt gilt" in changed.body and FIRST in changed.body
    assert f"„{other_than(automated)}“" in confirmed.body and SECOND in confirmed.body
    assert first.reference in confirmed.body  # the person's outcome that was confirmed
    with translation.override("de"):
        shown = text(render_to_string("reviews/_outcome_history.html", decision_presentation(decision)))
    assert "Sachbearbeitung" in shown and "Wie entschieden wurde" in shown


def test_the_queue_shows_the_outcome_in_force(decision, caseworker, django_assert_num_queries):
    first, second = ask(decision), ask(decision, kind="view")
    casework.review_overturn(
        request=first, user=caseworker, new_outcome=other_than(decision.outcome), rationale=FIRST
    )
    with django_assert_num_queries(1):
        rows = list(review_queue(status="all"))
    assert {r.reference: r.outcome_in_force for r in rows} == {
        first.reference: other_than(decision.outcome),
        second.reference: other_than(decision.outcome),
    }
    assert outcome_history(decision)["in_force"].outcome == other_than(decision.outcome)
