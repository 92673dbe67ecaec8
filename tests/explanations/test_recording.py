"""A few decisions are recorded on PostgreSQL by ONE statement, its own transaction: the
decisions, their pending explanations and their audit events (`rationale_audit_append`).
These tests run outside a test transaction, as a request does."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from audit.chain import verify_chain
from audit.models import Action, AuditEvent
from audit.services import Actor, EventSpec, audit_record_many
from audit.storage import CHAIN_LOCK_KEY
from decisions.models import Decision
from decisions.recording import DecisionInput
from explanations.models import Explanation
from explanations.recording import decision_record, decision_record_many
from tests.services import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _item(row: dict, ref: str) -> DecisionInput:
    return DecisionInput(model="credit-risk", features=row, subject_ref=ref)


def test_a_decision_its_explanation_and_its_event_are_one_statement(credit_version, applicant):
    decision_record(item=_item(applicant, "s-0"), actor=Actor.system("tests"))  # loads the model
    with CaptureQueriesContext(connection) as queries:
        recorded = decision_record(item=_item(applicant, "s-1"), actor=Actor.system("tests"))
    # The write alone (the version comes from the connection's registry cache): no separate
    # lock, head read, or audit insert (and no BEGIN or COMMIT, which psycopg sends outside the
    # queries captured here).
    assert len(queries) == 1, [q["sql"][:80] for q in queries]
    assert "rationale_audit_append" in queries[0]["sql"]
    decision = Decision.objects.get(pk=recorded.decision.pk)
    assert Explanation.objects.get(decision=decision).pk == recorded.explanation_id
    event = AuditEvent.objects.get(action=Action.DECISION_RECORDED, object_id=str(decision.pk))
    assert event.data["score"] == repr(decision.score) and event.actor_id == "tests"
    result = verify_chain()
    assert (
        result.ok
        and result.checked == 2 + AuditEvent.objects.exclude(action=Action.DECISION_RECORDED).count()
    )


@pytest.fixture
def audit_inserts_fail():
    """The database refuses audit events, as a full disk or a broken replica would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit log unavailable'; END; $$"
        )
        cursor.execute(
            "CREATE TRIGGER test_refuse BEFORE INSERT ON audit_auditevent "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse()"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER test_refuse ON audit_auditevent")
        cursor.execute("DROP FUNCTION test_refuse()")


@pytest.mark.parametrize("n", [1, 3])
def test_a_failed_audit_append_leaves_no_decision(credit_version, credit_trained, audit_inserts_fail, n):
    """No BEGIN, no COMMIT: the statement is the transaction, so its decisions and explanations
    go with the audit event that could not be written."""
    items = [_item(row, f"s-{i}") for i, row in enumerate(credit_trained.sample_rows[:n])]
    with pytest.raises(DatabaseError, match="audit log unavailable"):
        decision_record_many(items=items, actor=Actor.system("tests"))
    assert not Decision.objects.exists()
    assert not Explanation.objects.exists()
    assert not AuditEvent.objects.filter(action=Action.DECISION_RECORDED).exists()


def test_concurrent_decisions_link_to_the_head_each_previous_writer_committed(credit_version, credit_trained):
    """Decision writers (autocommit) and slow writers that hold the chain lock a moment: each
    decision's statement starts before the lock is free, so its event must be linked to the head
    read after the lock is granted, not to one seen when the statement began."""
    rows = credit_trained.sample_rows
    writers, per_writer = 4, 12
    start = threading.Barrier(writers)
    failures = []

    def record(w: int) -> None:
        try:
            start.wait()
            for i in range(per_writer):
                if w % 2:
                    decision_record(
                        item=_item(rows[(w * per_writer + i) % len(rows)], f"s-{w}-{i}"),
                        actor=Actor.system("tests"),
                    )
                else:
                    with transaction.atomic():
                        audit_record_many(
                            events=[
                                EventSpec(
                                    Actor.system(f"slow-{w}"), Action.API_KEY_CREATED, "api_key", f"{w}-{i}"
                                )
                            ]
                        )
                        time.sleep(0.002)
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=record, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert Decision.objects.count() == writers // 2 * per_writer
    prev_hashes = list(AuditEvent.objects.values_list("prev_hash", flat=True))
    assert len(set(prev_hashes)) == len(prev_hashes)  # no two events share a predecessor
    result = verify_chain()
    assert result.ok, result.describe()


def test_a_keyed_decision_is_recorded_with_its_key_in_one_statement(integration, credit_version, applicant):
    """The key's record is a CTE of the decision's own statement: no BEGIN, no separate
    INSERT, no COMMIT, and the chain lock is not held across a client round trip."""
    payload = json.dumps({"model": "credit-risk", "subject_ref": "keyed", "features": applicant})

    def send(key):
        return integration.post(
            "/api/v1/decisions/", data=payload, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
        )

    send("warm-up")  # loads the model
    with CaptureQueriesContext(connection) as queries:
        response = send("the-key")
    assert response.status_code == 201
    # The Idempotency-Key's lookup, then the write (the API key and the version come from the
    # connection's registry cache).
    assert len(queries) == 2, [q["sql"][:80] for q in queries]
    assert "rationale_audit_append" in queries[1]["sql"] and "idempotencyrecord" in queries[1]["sql"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT d.xmin::text, r.xmin::text FROM decisions_decision d, decisions_idempotencyrecord r "
            "WHERE d.id = %s AND r.key = 'the-key'",
            [response.json()["id"]],
        )
        decision_xact, record_xact = cursor.fetchone()
    assert decision_xact == record_xact  # one transaction


# 1: the key's claim is a CTE of the decisions' statement; 25: an INSERT in their transaction.
@pytest.mark.parametrize("n", [1, 25])
def test_two_requests_racing_with_one_idempotency_key_record_once(
    integration, credit_version, credit_trained, n
):
    """Both requests find no record for the key and go on to record. The test holds the chain
    lock until both wait inside their write; the first to commit keeps its decisions, and the
    second's insert of the key fails, rolls its decisions back, and replays the first's."""
    key = str(uuid.uuid4())
    rows = credit_trained.sample_rows[:n]
    if n == 1:
        url, payload = (
            "/api/v1/decisions/",
            {"model": "credit-risk", "subject_ref": "racer", "features": rows[0]},
        )
    else:
        items = [
            {"model": "credit-risk", "subject_ref": f"racer-{i}", "features": r} for i, r in enumerate(rows)
        ]
        url, payload = "/api/v1/decisions/bulk/", {"decisions": items}
    responses = []

    def post() -> None:
        try:
            responses.append(
                integration.post(
                    url, data=json.dumps(payload), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
                )
            )
        finally:
            connections.close_all()

    def waiting() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT locktype FROM pg_locks WHERE NOT granted ORDER BY locktype")
            return [row[0] for row in cursor.fetchall()]

    holder = connections.create_connection("default")
    try:
        with holder.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])
        threads = [threading.Thread(target=post) for _ in range(2)]
        for t in threads:
            t.start()
        wait_until(lambda: len(waiting()) == 2, timeout=20, what="both requests to wait in their write")
        if n == 1:
            # The claim comes before the chain lock: the second request waits for the first's
            # key, not in the chain lock's queue.
            assert waiting() == ["advisory", "transactionid"]
        with holder.cursor() as cursor:
            cursor.execute("COMMIT")
        for t in threads:
            t.join()
    finally:
        holder.close()
    assert sorted(r.status_code for r in responses) == [201, 201]
    assert responses[0].json() == responses[1].json()
    assert sorted(r.get("Idempotent-Replayed", "") for r in responses) == ["", "true"]
    assert Decision.objects.count() == n and Explanation.objects.count() == n
    kept = responses[0].json()
    assert {str(pk) for pk in Decision.objects.values_list("pk", flat=True)} == (
        {kept["id"]} if n == 1 else {d["id"] for d in kept["decisions"]}
    )
    assert AuditEvent.objects.filter(action=Action.DECISION_RECORDED).count() == n
    assert verify_chain().ok
