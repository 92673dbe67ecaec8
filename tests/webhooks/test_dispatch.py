"""The dispatcher: which audit events become which webhook events, for whom, with what payload;
never twice, and none missed while writers append concurrently."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import Action, AuditEvent
from audit.services import Actor
from decisions.accounts import api_key_create
from decisions.models import Decision
from decisions.recording import DecisionInput
from explanations.drain import explanation_drain
from explanations.models import Explanation
from explanations.recording import decision_record_many
from reviews.deadline_alerts import deadline_alerts_record
from reviews.services import casework, requests, staff
from webhooks.catalogue import EVENT_TYPES
from webhooks.dispatch import webhooks_dispatch, webhooks_dispatch_once
from webhooks.models import Delivery, DispatchCursor
from webhooks.services import endpoint_create

RATIONALE = "I compared the inputs with the applicant's documents and the outcome changes on them."
SYSTEM = Actor.system("tests")


@pytest.fixture
def allow_any_url(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True


def subscribe(api_key, event_types=None):
    endpoint, _ = endpoint_create(
        api_key=api_key,
        url="https://hooks.example/rationale",
        event_types=event_types or list(EVENT_TYPES),
        actor=SYSTEM,
    )
    return endpoint


def record(api_key, rows, prefix="d"):
    items = [
        DecisionInput(model="credit-risk", features=r, subject_ref=f"{prefix}-{i}")
        for i, r in enumerate(rows)
    ]
    return [r.decision for r in decision_record_many(items=items, actor=SYSTEM, api_key=api_key)]


def payloads(endpoint) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for d in Delivery.objects.filter(endpoint=endpoint).order_by("audit_event_id"):
        assert d.payload["type"] == d.event_type
        found.setdefault(d.event_type, []).append(d.payload["data"])
    return found


@pytest.mark.django_db
def test_the_life_of_a_contested_decision_as_webhooks(
    allow_any_url, api_key, credit_version, credit_trained, caseworker
):
    endpoint = subscribe(api_key)
    other = subscribe(api_key_create(name="another", actor=SYSTEM)[0])
    [decision] = record(api_key, credit_trained.sample_rows[:1])
    explanation_drain(model_version_id=credit_version.pk)
    request = requests.review_request_create(
        decision=decision,
        kind="contest",
        grounds="data_wrong",
        statement="My income is higher than recorded.",
    )
    casework.review_request_information(
        request=request, user=caseworker, question="Please send your payslips."
    )
    new_outcome = "approved" if decision.outcome == "refused" else "refused"
    casework.review_overturn(request=request, user=caseworker, new_outcome=new_outcome, rationale=RATIONALE)

    assert webhooks_dispatch(limit=3)["deliveries"] == 6  # several batches, smaller than the events
    human = Decision.objects.get(supersedes=decision)
    explanation = Explanation.objects.get(decision=decision)
    request.refresh_from_db()
    review = {
        "review": request.pk,
        "reference": request.reference,
        "decision": str(decision.pk),
        "kind": "contest",
    }
    assert payloads(endpoint) == {
        "decision.recorded": [
            {
                "decision": str(decision.pk),
                "model": "credit-risk",
                "model_version": credit_version.version,
                "kind": "automated",
                "outcome": decision.outcome,
                "favourable": decision.favourable,
                "status": "final",
                "referral_reasons": [],
                "review_due_at": None,
                "decided_at": decision.decided_at.isoformat(),
            }
        ],
        "explanation.done": [
            {"decision": str(decision.pk), "explanation": explanation.pk, "method": explanation.method}
        ],
        "review.requested": [{**review, "origin": "subject", "due_at": request.due_at.isoformat()}],
        "review.info_requested": [review],
        "decision.superseded": [
            {
                "decision": str(human.pk),
                "model": "credit-risk",
                "model_version": credit_version.version,
                "kind": "human",
                "outcome": new_outcome,
                "favourable": human.favourable,
                "status": "final",
                "referral_reasons": [],
                "review_due_at": None,
                "decided_at": human.decided_at.isoformat(),
                "supersedes": str(decision.pk),
            }
        ],
        "review.decided": [
            {
                **review,
                "outcome": "overturned",
                "decision_in_force": str(human.pk),
                "outcome_in_force": new_outcome,
                "human_decision": str(human.pk),
                "referral": False,
            }
        ],
    }
    # Another key's endpoint hears nothing of this key's decisions.
    assert not Delivery.objects.filter(endpoint=other).exists()
    # The message id is the audit event's.
    upheld = Delivery.objects.get(endpoint=endpoint, event_type="review.decided")
    assert AuditEvent.objects.get(pk=upheld.audit_event_id).action == Action.REVIEW_OVERTURNED


@pytest.mark.django_db
def test_an_endpoint_gets_only_its_types_and_only_what_happened_after_it_was_registered(
    allow_any_url, api_key, credit_version, credit_trained
):
    record(api_key, credit_trained.sample_rows[:2], prefix="before")  # the cursor is still before them
    endpoint = subscribe(api_key, ["explanation.done", "decision.recorded"])
    explanation_drain(model_version_id=credit_version.pk)  # the two earlier decisions' explanations
    [after] = record(api_key, credit_trained.sample_rows[2:3], prefix="after")
    explanation_drain(model_version_id=credit_version.pk)
    webhooks_dispatch(limit=100)
    explained = [p["decision"] for p in payloads(endpoint)["explanation.done"]]
    assert len(explained) == 3 and str(after.pk) in explained
    assert [p["decision"] for p in payloads(endpoint)["decision.recorded"]] == [str(after.pk)]
    assert set(payloads(endpoint)) == {"explanation.done", "decision.recorded"}


@pytest.mark.django_db
def test_without_a_cursor_the_first_endpoint_starts_it_at_the_head_of_the_log(
    allow_any_url, api_key, credit_version, credit_trained
):
    DispatchCursor.objects.all().delete()
    assert webhooks_dispatch_once(limit=10) == (0, 0)  # nothing registered: nothing read
    record(api_key, credit_trained.sample_rows[:2])
    head = AuditEvent.objects.latest("id").id
    endpoint = subscribe(api_key, ["decision.recorded"])
    assert DispatchCursor.objects.get().last_event_id == head
    [after] = record(api_key, credit_trained.sample_rows[2:3])
    assert webhooks_dispatch_once(limit=100) == (2, 1)  # the endpoint's own event, the decision's
    assert [p["decision"] for p in payloads(endpoint)["decision.recorded"]] == [str(after.pk)]


@pytest.mark.django_db
def test_dispatching_again_creates_nothing_twice(allow_any_url, api_key, credit_version, credit_trained):
    endpoint = subscribe(api_key, ["decision.recorded"])
    record(api_key, credit_trained.sample_rows[:3])
    assert webhooks_dispatch_once(limit=100)[1] == 3
    assert webhooks_dispatch_once(limit=100) == (0, 0)
    # Even from a cursor moved back (a crash between reading and storing it): one delivery each.
    DispatchCursor.objects.update(last_event_id=0)
    webhooks_dispatch_once(limit=1000)
    assert Delivery.objects.filter(endpoint=endpoint).count() == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatchers_and_writers_deliver_every_event_exactly_once(
    allow_any_url, api_key, credit_version, credit_trained
):
    """Writers append through the one-statement path (a few decisions per call) and the COPY path
    (many) while two dispatchers run; in the end each decision.recorded has one delivery."""
    endpoint = subscribe(api_key, ["decision.recorded"])
    rows = credit_trained.sample_rows
    stop = threading.Event()
    errors: list[BaseException] = []

    def in_thread(work):
        def run():
            from django.db import connection

            try:
                work()
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)
            finally:
                connection.close()

        return threading.Thread(target=run)

    def writer(n: int, size: int):
        def work():
            for round_ in range(n):
                record(api_key, rows[:size], prefix=f"w{size}-{round_}")

        return work

    def dispatcher():
        while not stop.is_set():
            webhooks_dispatch_once(limit=7)

    writers = [in_thread(writer(6, 2)), in_thread(writer(6, 3)), in_thread(writer(2, 20))]
    dispatchers = [in_thread(dispatcher), in_thread(dispatcher)]
    for t in writers + dispatchers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in dispatchers:
        t.join()
    assert not errors, errors
    webhooks_dispatch(limit=1000)
    recorded = set(Decision.objects.filter(api_key=api_key).values_list("id", flat=True))
    assert len(recorded) == 6 * 2 + 6 * 3 + 2 * 20
    delivered = list(
        Delivery.objects.filter(endpoint=endpoint).values_list("payload__data__decision", flat=True)
    )
    assert len(delivered) == len(recorded)
    assert set(delivered) == {str(pk) for pk in recorded}


@pytest.mark.django_db
def test_a_staff_review_upheld_is_a_review_decided_naming_the_decision_in_force(
    allow_any_url, api_key, credit_version, credit_trained, caseworker
):
    endpoint = subscribe(api_key, ["review.requested", "review.decided"])
    [decision] = record(api_key, credit_trained.sample_rows[:1])
    request = staff.review_open(decision=decision, user=caseworker, reason=RATIONALE)
    casework.review_uphold(request=request, user=caseworker, rationale=RATIONALE)
    webhooks_dispatch(limit=100)
    found = payloads(endpoint)
    assert found["review.requested"][0]["origin"] == "staff"
    assert found["review.decided"] == [
        {
            "review": request.pk,
            "reference": request.reference,
            "decision": str(decision.pk),
            "kind": "staff",
            "outcome": "upheld",
            "decision_in_force": str(decision.pk),
            "outcome_in_force": decision.outcome,
            "human_decision": None,
            "referral": False,
        }
    ]


@pytest.mark.django_db
def test_deadlines_of_reviews_and_of_referrals_not_yet_taken(
    allow_any_url, api_key, credit_version, credit_trained
):
    endpoint = subscribe(api_key, ["review.deadline_near", "review.deadline_missed"])
    contested, referred = record(api_key, credit_trained.sample_rows[:2])
    request = requests.review_request_create(
        decision=contested, kind="contest", grounds="reasoning", statement="The reasons do not fit me."
    )
    referral_due = request.due_at + timedelta(days=40)
    Decision.objects.filter(pk=referred.pk).update(status="pending_review", review_due_at=referral_due)
    deadline_alerts_record(now=request.due_at + timedelta(hours=1))  # the review is late
    deadline_alerts_record(now=referral_due - timedelta(hours=1))  # the referral's nears
    webhooks_dispatch(limit=100)
    assert payloads(endpoint) == {
        "review.deadline_missed": [
            {
                "review": request.pk,
                "reference": request.reference,
                "decision": str(contested.pk),
                "kind": "contest",
                "due_at": request.due_at.isoformat(),
            }
        ],
        "review.deadline_near": [
            {
                "review": None,
                "reference": None,
                "decision": str(referred.pk),
                "kind": "referral",
                "due_at": referral_due.isoformat(),
            }
        ],
    }


@pytest.mark.django_db
def test_with_no_endpoint_enabled_the_dispatcher_only_moves_its_cursor(
    allow_any_url, api_key, credit_version, credit_trained
):
    endpoint = subscribe(api_key, ["decision.recorded"])
    endpoint.enabled = False
    endpoint.save()
    webhooks_dispatch(limit=1000)  # up to the head: the model's registration and so on
    counts = []
    for n in (2, 20):
        record(api_key, credit_trained.sample_rows[:n], prefix=f"n{n}")
        head = AuditEvent.objects.latest("id").id
        with CaptureQueriesContext(connection) as captured:
            read, created = webhooks_dispatch_once(limit=1000)
        assert (read, created) == (n, 0)
        assert DispatchCursor.objects.get().last_event_id == head
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]
    assert not any("decisions_decision" in q["sql"] for q in captured.captured_queries)
    assert not Delivery.objects.exists()
