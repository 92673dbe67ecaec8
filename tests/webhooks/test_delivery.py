"""Deliveries end to end: the API records decisions, a real worker explains them, beat's
dispatcher turns the audit events into deliveries, and the worker POSTs them, signed, to a
receiver process that verifies them with the standardwebhooks library."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import Action, AuditEvent
from audit.services import Actor
from decisions.models import Decision
from decisions.recording import DecisionInput
from explanations.recording import decision_record_many
from tests.services import wait_until
from webhooks.delivery import deliveries_due, webhooks_deliver
from webhooks.dispatch import webhooks_dispatch
from webhooks.models import Attempt, Delivery, Endpoint
from webhooks.services import endpoint_create

from .conftest import WORKER_ENV, record_decisions, register

pytestmark = pytest.mark.integration
MAX_ATTEMPTS = int(WORKER_ENV["WEBHOOK_MAX_ATTEMPTS"])


def accepted_ids(receiver) -> list[str]:
    return [a["id"] for a in receiver.accepted()]


def deliveries_state():
    return list(Delivery.objects.values_list("id", "event_type", "status", "attempts"))


def test_deliveries_verify_and_carry_ids_and_outcomes_never_features(
    webhook_worker, integration, credit_version, credit_trained, receiver_factory
):
    receiver = receiver_factory(start=False)
    endpoint = register(integration, receiver.url, ["decision.recorded", "explanation.done"])
    receiver.start(secrets=[endpoint["secret"]])
    rows = credit_trained.sample_rows[:3]
    created = record_decisions(integration, rows)

    wait_until(
        lambda: len(receiver.accepted()) == 6,
        timeout=60,
        what="3 recorded + 3 explained",
        state=deliveries_state,
    )
    bodies = [json.loads(a["body"]) for a in receiver.accepted()]
    by_type: dict[str, dict] = {}
    for body in bodies:
        by_type.setdefault(body["type"], {})[body["data"]["decision"]] = body["data"]
    assert set(by_type["decision.recorded"]) == {d["id"] for d in created}
    assert set(by_type["explanation.done"]) == {d["id"] for d in created}
    for made in created:
        decision = Decision.objects.get(pk=made["id"])
        recorded = by_type["decision.recorded"][made["id"]]
        assert recorded["outcome"] == decision.outcome == made["outcome"]
        assert recorded["status"] == "final"
        assert recorded["model"] == "credit-risk" and recorded["model_version"] == credit_version.version
    # Each message id is its audit event's, and every one verified.
    events = dict(AuditEvent.objects.filter(action=Action.DECISION_RECORDED).values_list("object_id", "id"))
    assert {a["id"] for a in receiver.accepted() if json.loads(a["body"])["type"] == "decision.recorded"} == {
        f"msg_{events[d['id']]}" for d in created
    }
    assert all(a["verified_by"] == [0] for a in receiver.accepted())
    assert receiver.state()["rejected"] == 0
    # No personal data: neither the subject's reference nor any feature's name or value.
    raw = " ".join(a["body"] for a in receiver.accepted())
    for i, row in enumerate(rows):
        assert f"wh-subject-{i}" not in raw
        for name, value in row.items():
            assert f'"{name}"' not in raw
            if isinstance(value, str) and len(value) > 3:
                assert f'"{value}"' not in raw
    # Every attempt is in the audit log, by ids only (recorded just after the receiver answered).
    wait_until(
        lambda: Delivery.objects.filter(status="delivered").count() == 6, timeout=30, what="6 recorded"
    )
    attempted = AuditEvent.objects.filter(action=Action.WEBHOOK_ATTEMPTED)
    assert attempted.count() == 6
    assert {e.data["status_code"] for e in attempted} == {204}
    assert all(
        set(e.data) == {"delivery", "endpoint", "attempt", "replay", "status_code", "result"}
        for e in attempted
    )


def test_a_receiver_failing_three_times_gets_the_event_once_after_retries(
    webhook_worker, integration, credit_version, credit_trained, receiver_factory
):
    receiver = receiver_factory(fail_first=3, start=False)
    endpoint = register(integration, receiver.url, ["decision.recorded"])
    receiver.start(secrets=[endpoint["secret"]])
    [made] = record_decisions(integration, credit_trained.sample_rows[:1])

    wait_until(
        lambda: Delivery.objects.filter(status="delivered").exists(),
        timeout=60,
        what="delivered",
        state=deliveries_state,
    )
    delivery = Delivery.objects.get()
    assert [json.loads(a["body"])["data"]["decision"] for a in receiver.accepted()] == [made["id"]]
    assert receiver.state()["failed"] == 3
    assert delivery.attempts == 4
    assert list(delivery.attempt_rows.values_list("number", "status_code")) == [
        (1, 500),
        (2, 500),
        (3, 500),
        (4, 204),
    ]
    assert list(delivery.attempt_rows.values_list("error", flat=True)) == ["HTTP 500"] * 3 + [""]


def test_a_receiver_down_past_the_last_attempt_is_dead_lettered_and_a_replay_delivers(
    webhook_worker, integration, credit_version, credit_trained, receiver_factory
):
    receiver = receiver_factory(start=False)  # nothing listens on its port yet
    endpoint = register(integration, receiver.url, ["decision.recorded"])
    [made] = record_decisions(integration, credit_trained.sample_rows[:1])

    wait_until(
        lambda: Delivery.objects.filter(status="dead").exists(),
        timeout=60,
        what="dead",
        state=deliveries_state,
    )
    delivery = Delivery.objects.get()
    assert delivery.attempts == MAX_ATTEMPTS
    assert [a.status_code for a in delivery.attempt_rows.all()] == [None] * MAX_ATTEMPTS
    assert all(a.error == "ConnectError" for a in delivery.attempt_rows.all())
    dead = AuditEvent.objects.get(action=Action.WEBHOOK_DEAD_LETTERED)
    assert dead.data == {"delivery": delivery.pk, "endpoint": endpoint["id"], "attempts": MAX_ATTEMPTS}
    listed = integration.get(f"/api/v1/webhooks/endpoints/{endpoint['id']}/deliveries/?status=dead").json()
    assert [d["id"] for d in listed["results"]] == [delivery.pk]

    receiver.start(secrets=[endpoint["secret"]])
    replay = integration.post(f"/api/v1/webhooks/endpoints/{endpoint['id']}/replay-dead/")
    assert replay.status_code == 202 and replay.json() == {"replayed": 1}
    wait_until(
        lambda: Delivery.objects.filter(status="delivered").exists(),
        timeout=60,
        what="the replay",
        state=deliveries_state,
    )
    assert json.loads(receiver.accepted()[0]["body"])["data"]["decision"] == made["id"]
    assert receiver.accepted()[0]["id"] == delivery.msg_id  # the same message id as before
    detail = integration.get(f"/api/v1/webhooks/deliveries/{delivery.pk}/").json()
    assert detail["status"] == "delivered" and detail["replays"] == 1 and detail["attempts"] == 1
    assert [(a["replay"], a["number"], a["status_code"]) for a in detail["attempt_history"]] == [
        *((0, n, None) for n in range(1, MAX_ATTEMPTS + 1)),
        (1, 1, 204),
    ]
    assert AuditEvent.objects.filter(action=Action.WEBHOOK_REPLAYED, object_id=str(delivery.pk)).count() == 1


def test_rotated_secrets_both_verify_during_the_overlap_and_only_the_new_after(
    webhook_worker, integration, credit_version, credit_trained, receiver_factory
):
    receiver = receiver_factory(start=False)
    endpoint = register(integration, receiver.url, ["decision.recorded"])
    rotated = integration.post(f"/api/v1/webhooks/endpoints/{endpoint['id']}/rotate-secret/").json()
    old, new = endpoint["secret"], rotated["secret"]
    assert old != new and new.startswith("whsec_") and rotated["previous_secret_valid_until"]
    # One receiver process checks each secret on its own, as two receivers holding one each would.
    receiver.start(secrets=[old, new])

    record_decisions(integration, credit_trained.sample_rows[:1], prefix="during")
    wait_until(lambda: len(receiver.accepted()) == 1, timeout=60, what="delivery during the overlap")
    assert receiver.accepted()[0]["verified_by"] == [0, 1]

    # The overlap ends (as if WEBHOOK_SECRET_OVERLAP_HOURS had passed).
    Endpoint.objects.filter(pk=endpoint["id"]).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    record_decisions(integration, credit_trained.sample_rows[1:2], prefix="after")
    wait_until(lambda: len(receiver.accepted()) == 2, timeout=60, what="delivery after the overlap")
    assert receiver.accepted()[1]["verified_by"] == [1]
    assert AuditEvent.objects.filter(action=Action.WEBHOOK_SECRET_ROTATED).count() == 1
    assert all(
        old not in json.dumps(e.data) and new not in json.dumps(e.data) for e in AuditEvent.objects.all()
    )


def test_two_senders_at_once_send_each_delivery_once_and_a_stale_claim_is_taken_back(
    transactional_db, webhook_settings, api_key, credit_version, credit_trained, receiver_factory
):
    """No worker: the task's body in two threads at once, against a real receiver."""
    receiver = receiver_factory()
    endpoint, secret = endpoint_create(
        api_key=api_key, url=receiver.url, event_types=["decision.recorded"], actor=Actor.system("tests")
    )
    receiver.start(secrets=[secret])
    items = [
        DecisionInput(model="credit-risk", features=r, subject_ref=f"s-{i}")
        for i, r in enumerate(credit_trained.sample_rows[:30])
    ]
    decision_record_many(items=items, actor=Actor.system("tests"), api_key=api_key)
    webhooks_dispatch(limit=1000)
    # One of them held by a worker that died long ago.
    crashed = Delivery.objects.order_by("id").first()
    Delivery.objects.filter(pk=crashed.pk).update(
        claim="dead-worker", claimed_at=timezone.now() - timedelta(hours=1)
    )
    assert deliveries_due()

    def send():
        from django.db import connection

        try:
            webhooks_deliver(limit=4)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = accepted_ids(receiver)
    assert len(ids) == 30 and len(set(ids)) == 30
    assert set(Delivery.objects.values_list("status", "attempts", "claim")) == {("delivered", 1, "")}
    assert Attempt.objects.count() == 30 and not deliveries_due()
