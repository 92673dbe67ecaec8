"""Deadline alerts (reviews.deadline_alerts): "near" and "missed" audit events, each written once
per request (or referred decision) and per due date."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.chain import verify_chain
from audit.models import Action, AuditEvent
from audit.services import Actor
from decisions.models import Decision
from decisions.recording import DecisionInput
from explanations.recording import decision_record_many
from reviews.deadline_alerts import deadline_alerts_record
from reviews.models import ReviewRequest
from reviews.services import casework, requests
from reviews.tasks import deadline_alerts
from tests.services import wait_until

pytestmark = pytest.mark.django_db
NEAR, MISSED = Action.REVIEW_DEADLINE_NEAR, Action.REVIEW_DEADLINE_MISSED
RATIONALE = "The payslips confirm the recorded income; the model's assessment stands on them."
STATEMENT = "My income is 3,100 DM a month, not 1,100 as recorded."
EMAIL = "wombat.subject@example.org"


@pytest.fixture
def decisions(credit_version, credit_trained):
    items = [
        DecisionInput(model="credit-risk", features=r, subject_ref=f"p-{i}")
        for i, r in enumerate(credit_trained.sample_rows[:3])
    ]
    return [r.decision for r in decision_record_many(items=items, actor=Actor.system("tests"))]


@pytest.fixture
def request_(decisions) -> ReviewRequest:
    return requests.review_request_create(
        decision=decisions[0], kind="contest", grounds="data_wrong", statement=STATEMENT, contact_email=EMAIL
    )


def alerts(action=None) -> list[tuple[str, str, dict]]:
    qs = AuditEvent.objects.filter(action__in=[action] if action else [NEAR, MISSED]).order_by("id")
    return [(e.action, e.object_id, e.data) for e in qs]


def test_nothing_before_the_window(request_):
    assert deadline_alerts_record(now=request_.due_at - timedelta(days=3, minutes=1)) == {
        "near": 0,
        "missed": 0,
    }
    assert alerts() == []


def test_near_once_then_missed_once(request_):
    expected = {
        "reference": request_.reference,
        "decision": str(request_.decision_id),
        "due_at": request_.due_at.isoformat(),
        "kind": "contest",
    }
    near = request_.due_at - timedelta(days=2)
    assert deadline_alerts_record(now=near) == {"near": 1, "missed": 0}
    assert deadline_alerts_record(now=near + timedelta(hours=1)) == {"near": 0, "missed": 0}
    assert alerts() == [(NEAR, str(request_.pk), expected)]

    late = request_.due_at + timedelta(minutes=1)
    assert deadline_alerts_record(now=late) == {"near": 0, "missed": 1}
    assert deadline_alerts_record(now=late + timedelta(days=5)) == {"near": 0, "missed": 0}
    assert alerts() == [(NEAR, str(request_.pk), expected), (MISSED, str(request_.pk), expected)]
    assert AuditEvent.objects.get(action=MISSED).actor_type == "system"
    assert verify_chain().ok


def test_the_events_hold_no_personal_data(request_):
    deadline_alerts_record(now=request_.due_at + timedelta(days=1))
    [(_, _, data)] = alerts()
    assert set(data) == {"reference", "decision", "due_at", "kind"}
    assert STATEMENT not in str(data) and EMAIL not in str(data)


def test_a_late_run_writes_missed_without_near(request_):
    assert deadline_alerts_record(now=request_.due_at + timedelta(days=1)) == {"near": 0, "missed": 1}
    assert [a for a, _, _ in alerts()] == [MISSED]


def test_an_extension_rearms_near_for_the_new_due_date(request_, caseworker):
    first_due = request_.due_at
    deadline_alerts_record(now=first_due - timedelta(days=1))
    extended = casework.review_extend(
        request=request_, user=caseworker, months=1, reason="Payslips are awaited."
    )
    assert extended.due_at > first_due
    assert deadline_alerts_record(now=extended.due_at - timedelta(days=2)) == {"near": 1, "missed": 0}
    assert deadline_alerts_record(now=extended.due_at - timedelta(days=1)) == {"near": 0, "missed": 0}
    assert [(a, d["due_at"]) for a, _, d in alerts()] == [
        (NEAR, first_due.isoformat()),
        (NEAR, extended.due_at.isoformat()),
    ]


def test_closed_requests_stay_quiet(request_, caseworker):
    casework.review_uphold(request=request_, user=caseworker, rationale=RATIONALE)
    assert deadline_alerts_record(now=request_.due_at - timedelta(days=1)) == {"near": 0, "missed": 0}
    assert deadline_alerts_record(now=request_.due_at + timedelta(days=1)) == {"near": 0, "missed": 0}
    assert alerts() == []


def test_each_request_has_its_own_alerts(decisions):
    made = [requests.review_request_create(decision=d, kind="human_intervention") for d in decisions[:2]]
    deadline_alerts_record(now=made[0].due_at - timedelta(days=1))
    assert sorted(o for _, o, _ in alerts(NEAR)) == sorted(str(r.pk) for r in made)


def refer(decision: Decision, due_at) -> Decision:
    """A decision held for a person before it takes effect, as decisions.referral records it."""
    Decision.objects.filter(pk=decision.pk).update(
        status=Decision.Status.PENDING_REVIEW, referral_reasons=["score_band"], review_due_at=due_at
    )
    decision.refresh_from_db()
    return decision


def test_a_referred_decision_is_near_within_hours_then_missed(decisions):
    now = timezone.now()
    referred = refer(decisions[1], now + timedelta(hours=20))
    expected = {
        "reference": "",
        "decision": str(referred.pk),
        "due_at": referred.review_due_at.isoformat(),
        "kind": "referral",
    }
    assert deadline_alerts_record(now=now) == {"near": 0, "missed": 0}  # 20 h away: not near yet
    assert deadline_alerts_record(now=now + timedelta(hours=9)) == {"near": 1, "missed": 0}
    assert deadline_alerts_record(now=now + timedelta(hours=10)) == {"near": 0, "missed": 0}
    assert deadline_alerts_record(now=now + timedelta(hours=21)) == {"near": 0, "missed": 1}
    assert deadline_alerts_record(now=now + timedelta(hours=30)) == {"near": 0, "missed": 0}
    assert alerts() == [(NEAR, str(referred.pk), expected), (MISSED, str(referred.pk), expected)]


def test_a_referral_request_is_announced_once_on_the_decisions_window(decisions):
    now = timezone.now()
    referred = refer(decisions[1], now + timedelta(hours=6))
    referral = requests.review_request_create(decision=referred, kind="referral")
    assert deadline_alerts_record(now=now) == {"near": 1, "missed": 0}
    [(action, object_id, data)] = alerts()
    assert (action, object_id, data["reference"]) == (NEAR, str(referred.pk), referral.reference)


def test_a_decided_referral_is_quiet(decisions):
    now = timezone.now()
    referred = refer(decisions[1], now + timedelta(hours=6))
    Decision.objects.filter(pk=referred.pk).update(status=Decision.Status.FINAL)
    assert deadline_alerts_record(now=now + timedelta(hours=7)) == {"near": 0, "missed": 0}


def test_the_task_runs_the_service(request_):
    # Received a month and a minute ago: its due date has just passed.
    past = timezone.now() - timedelta(days=40)
    ReviewRequest.objects.filter(pk=request_.pk).update(
        received_at=past, original_due_at=past, due_at=timezone.now() - timedelta(minutes=1)
    )
    assert deadline_alerts() == {"near": 0, "missed": 1}  # the task's body, as beat runs it
    assert deadline_alerts() == {"near": 0, "missed": 0}


@pytest.mark.integration
def test_beat_runs_the_alerts_on_a_real_worker(worker_factory, decisions):
    request_ = requests.review_request_create(decision=decisions[2], kind="human_intervention")
    past = timezone.now() - timedelta(days=40)
    ReviewRequest.objects.filter(pk=request_.pk).update(
        received_at=past, original_due_at=past, due_at=timezone.now() - timedelta(minutes=1)
    )
    worker = worker_factory(beat=True, env={"REVIEW_DEADLINE_ALERT_SECONDS": "1"})
    wait_until(
        lambda: AuditEvent.objects.filter(action=MISSED, object_id=str(request_.pk)).exists(),
        timeout=60,
        what="beat's deadline alert",
        state=lambda: worker.log()[-2000:],
    )

    def runs() -> int:
        return len(re.findall(r"Task reviews\.deadline_alerts\[[^\]]+\] succeeded", worker.log()))

    wait_until(
        lambda: runs() >= 3, timeout=30, what="more runs of the alerts", state=lambda: worker.log()[-2000:]
    )
    assert [a for a, _, _ in alerts()] == [MISSED]  # written by the first run only
