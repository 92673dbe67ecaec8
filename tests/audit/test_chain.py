"""The audit chain: append-only in the database, and every kind of tampering detected."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import DatabaseError

from audit import storage as audit_storage
from audit.chain import checkpoint_sign, verify_chain
from audit.events import GENESIS_HASH
from audit.models import Action, AuditEvent
from audit.services import Actor, EventSpec, audit_record, audit_record_many

pytestmark = pytest.mark.django_db


def _events(n: int) -> list[AuditEvent]:
    return [
        audit_record(
            actor=Actor.system("test"),
            action=Action.API_KEY_CREATED,
            object_type="api_key",
            object_id=i,
            data={"n": i},
        )
        for i in range(n)
    ]


def _as_attacker(sql: str, params=None) -> None:
    """Someone with direct database access, bypassing the append-only triggers."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params or [])
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")


def test_events_link_into_one_chain():
    events = _events(3)
    assert events[0].prev_hash == GENESIS_HASH
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash
    result = verify_chain()
    assert result.ok and result.checked == 3 and result.head_hash == events[2].hash


def test_events_appended_by_postgresql_start_the_chain_and_hash_as_python_does():
    """`rationale_audit_append` (a batch below COPY_MIN_EVENTS) on an empty log: the first event
    links to the genesis hash, and each stored hash is the one Python computes."""
    specs = [
        EventSpec(Actor.system("test"), Action.API_KEY_CREATED, "api_key", str(i), {"name": "Zoë"})
        for i in range(3)
    ]
    assert audit_record_many(events=specs) == 3
    assert AuditEvent.objects.order_by("id").first().prev_hash == GENESIS_HASH
    # verify_chain recomputes every link and every hash in Python (audit.events.event_hash).
    result = verify_chain()
    assert result.ok and result.checked == 3, result.describe()


def test_database_refuses_update_and_delete():
    event = _events(1)[0]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="decision.recorded")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == Action.API_KEY_CREATED


def test_edited_event_is_detected():
    events = _events(4)
    _as_attacker("UPDATE audit_auditevent SET data = %s WHERE id = %s", ['{"n": 99}', events[2].pk])
    result = verify_chain()
    assert not result.ok
    assert result.first_bad_event_id == events[2].pk
    assert "edited" in result.reason


def test_deleted_event_is_detected():
    events = _events(4)
    _as_attacker("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    result = verify_chain()
    assert not result.ok
    assert result.first_bad_event_id == events[2].pk


def test_inserted_event_is_detected():
    events = _events(3)
    # Insert between events[0] and events[1] by giving the forged row an id in between: ids
    # are consecutive, so make room by re-numbering the later events as an attacker would.
    _as_attacker("UPDATE audit_auditevent SET id = id + 10 WHERE id > %s", [events[0].pk])
    _as_attacker(
        "INSERT INTO audit_auditevent (id, created_at, actor_type, actor_id, action, object_type,"
        " object_id, data, prev_hash, hash) VALUES (%s, now(), 'system', 'x', 'api_key.created',"
        " 'api_key', '7', '{}', %s, %s)",
        [events[0].pk + 1, events[0].hash, "e" * 64],
    )
    result = verify_chain()
    assert not result.ok
    assert result.first_bad_event_id == events[0].pk + 1


def test_reordered_events_are_detected():
    events = _events(4)
    a, b = events[1], events[2]
    # Swap the two rows' positions in the log.
    _as_attacker("UPDATE audit_auditevent SET id = -1 WHERE id = %s", [a.pk])
    _as_attacker("UPDATE audit_auditevent SET id = %s WHERE id = %s", [a.pk, b.pk])
    _as_attacker("UPDATE audit_auditevent SET id = %s WHERE id = -1", [b.pk])
    result = verify_chain()
    assert not result.ok
    assert result.first_bad_event_id == a.pk


def test_cut_tail_is_detected_by_signed_checkpoint():
    events = _events(3)
    checkpoint = checkpoint_sign()
    assert checkpoint.size == 3 and checkpoint.head_hash == events[2].hash
    assert verify_chain().ok
    _as_attacker("DELETE FROM audit_auditevent WHERE id = %s", [events[2].pk])
    result = verify_chain()
    assert not result.ok
    assert result.first_bad_event_id == events[2].pk
    assert "checkpoint" in result.reason


def test_forged_checkpoint_signature_is_detected():
    _events(2)
    checkpoint = checkpoint_sign()
    _as_attacker("UPDATE audit_checkpoint SET signature = %s WHERE id = %s", ["00" * 64, checkpoint.pk])
    result = verify_chain()
    assert not result.ok and "signature" in result.reason


def test_checkpoint_not_repeated_without_new_events():
    _events(2)
    assert checkpoint_sign() is not None
    assert checkpoint_sign() is None


def test_command_exits_zero_when_intact_and_names_the_bad_event(capsys):
    events = _events(3)
    call_command("verify_audit_chain")
    assert "intact: 3 events" in capsys.readouterr().out
    _as_attacker("UPDATE audit_auditevent SET object_id = 'x' WHERE id = %s", [events[1].pk])
    with pytest.raises(CommandError, match=f"event {events[1].pk}"):
        call_command("verify_audit_chain")


@pytest.mark.parametrize("copy_from", [16, 10**6], ids=["copy", "append-function"])
def test_bulk_events_chain_in_order_across_statement_chunks(monkeypatch, copy_from):
    """1,101 events in one call: through COPY, and through `rationale_audit_append` (the path of
    small batches, whose hashes PostgreSQL computes), the ids follow chain order, the data
    survive, and Python's verification recomputes every hash. (SQLite's multi-row INSERTs are
    run by tests/test_embedded_default.py.)"""
    monkeypatch.setattr(audit_storage, "COPY_MIN_EVENTS", copy_from)
    audit_record(
        actor=Actor.system("test"), action=Action.API_KEY_CREATED, object_type="api_key", object_id=0
    )
    specs = [
        EventSpec(Actor.system("test"), Action.API_KEY_CREATED, "api_key", str(i), {"n": i, "name": "Zoë ü"})
        for i in range(1, 1102)
    ]
    assert audit_record_many(events=specs) == 1101
    stored = list(AuditEvent.objects.order_by("id").values_list("object_id", "data", "prev_hash", "hash"))
    assert [row[0] for row in stored] == [str(i) for i in range(1102)]
    assert stored[700][1] == {"n": 700, "name": "Zoë ü"}
    assert all(stored[i][2] == stored[i - 1][3] for i in range(1, len(stored)))
    result = verify_chain()
    assert result.ok and result.checked == 1102


def _append_in_python(spec: EventSpec) -> None:
    audit_record(actor=spec.actor, action=spec.action, object_type=spec.object_type, object_id=spec.object_id)


def _append_in_postgresql(spec: EventSpec) -> None:
    audit_record_many(events=[spec])  # one event: rationale_audit_append


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("append", [_append_in_python, _append_in_postgresql], ids=["python", "function"])
def test_concurrent_writers_each_link_to_the_head_the_previous_one_committed(append):
    """Writers queue on the chain lock; each must read the head only once it holds the lock.

    Every transaction keeps the lock a moment before committing, so the others are waiting on it
    with their statement already started: a head read with a snapshot from before the wait would
    link two events to the same predecessor, and verification would fail. Both ways of appending
    are checked: the head read by Python after `rationale_audit_lock_head`, and the whole append
    in `rationale_audit_append`.
    """
    import threading
    import time

    from django.db import connections

    writers, per_writer = 4, 15
    start = threading.Barrier(writers)
    failures = []

    def write(w: int) -> None:
        try:
            start.wait()
            for i in range(per_writer):
                with transaction.atomic():
                    append(
                        EventSpec(Actor.system(f"writer-{w}"), Action.API_KEY_CREATED, "api_key", f"{w}-{i}")
                    )
                    time.sleep(0.002)
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert AuditEvent.objects.count() == writers * per_writer
    prev_hashes = list(AuditEvent.objects.values_list("prev_hash", flat=True))
    assert len(set(prev_hashes)) == len(prev_hashes)  # no two events share a predecessor
    result = verify_chain()
    assert result.ok, result.describe()
