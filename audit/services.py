"""The one service every write calls to leave its audit event.

Chain order is serialised by a transaction-scoped advisory lock on PostgreSQL (SQLite serialises
writers anyway with IMMEDIATE transactions). Callers write their audit event LAST in their
transaction, so the lock is held only from this insert to the commit: a fraction of a
millisecond, which is what keeps ingest fast while every event still links to the one before.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from config.postgresql import array_param

from .models import ActorType, AuditEvent

GENESIS_HASH = "0" * 64
_CHAIN_LOCK_KEY = 0x52415449  # "RATI": the advisory lock that orders the chain


@dataclass(frozen=True)
class Actor:
    type: str
    id: str = ""

    @classmethod
    def system(cls, name: str = "") -> Actor:
        return cls(ActorType.SYSTEM, name)

    @classmethod
    def user(cls, user: Any) -> Actor:
        return cls(ActorType.USER, str(user.pk))

    @classmethod
    def api_key(cls, key: Any) -> Actor:
        return cls(ActorType.API_KEY, str(key.pk))

    @classmethod
    def subject(cls, decision_id: Any) -> Actor:
        return cls(ActorType.SUBJECT, str(decision_id))


@dataclass(frozen=True)
class EventSpec:
    actor: Actor
    action: str
    object_type: str
    object_id: str
    data: dict = field(default_factory=dict)


def event_body(
    *,
    created_at: datetime,
    actor_type: str,
    actor_id: str,
    action: str,
    object_type: str,
    object_id: str,
    data: dict,
) -> str:
    """The canonical JSON of an event's own fields: what its hash covers after prev_hash."""
    return json.dumps(
        {
            "created_at": created_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor_type": actor_type,
            "actor_id": actor_id,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "data": data,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def event_hash(*, prev_hash: str, **fields: Any) -> str:
    """sha256 over the previous hash and a canonical JSON of the event's own fields.

    PostgreSQL's `rationale_audit_append` (migration 0007) computes the same from the same body.
    """
    return hashlib.sha256((prev_hash + event_body(**fields)).encode()).hexdigest()


def lock_chain() -> str:
    """Take the chain lock for the current transaction; return the head hash."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Lock, then read, inside one VOLATILE function (migration 0005): its read takes a
            # snapshot after the lock is granted, so it sees the previous holder's commit. A plain
            # statement doing both would read with a snapshot taken before the wait.
            cursor.execute("SELECT rationale_audit_lock_head(%s)", [_CHAIN_LOCK_KEY])
        else:
            # SQLite: writers are serialised by the database already.
            cursor.execute(f"SELECT hash FROM {AuditEvent._meta.db_table} ORDER BY id DESC LIMIT 1")  # noqa: S608
        row = cursor.fetchone()
    return row[0] if row and row[0] else GENESIS_HASH


def audit_record(
    *, actor: Actor, action: str, object_type: str, object_id: Any, data: dict | None = None
) -> AuditEvent:
    """Append one event. Call it last in the caller's transaction (see module docstring)."""
    # No savepoint: the event belongs to the caller's transaction and fails with it.
    with transaction.atomic(savepoint=False):
        [row] = _chained([EventSpec(actor, action, object_type, str(object_id), data or {})])
        event = _event(row)
        event.save(force_insert=True)
    return event


# From this many events on, PostgreSQL gets them with COPY: Django's bulk_create spent longer
# preparing 256 rows' values than the database spent storing them (bench/RESULTS.md).
COPY_MIN_EVENTS = 16
# An event's columns in the order its rows are written (everything but the id).
EVENT_COLUMNS = (
    "created_at",
    "actor_type",
    "actor_id",
    "action",
    "object_type",
    "object_id",
    "data",
    "prev_hash",
    "hash",
)
_DATA = EVENT_COLUMNS.index("data")
_INSERT_ROWS = 500  # per INSERT where COPY is not used: well inside SQLite's 32,766 parameters


# The types of rationale_audit_append's arrays: actor types, actor ids, actions, object types,
# object ids, data (JSON text), bodies.
_APPEND_ARRAY_TYPES = ("text", "text", "text", "text", "text", "text", "bytea")


def audit_append_call(events: list[EventSpec]) -> tuple[str, list]:
    """PostgreSQL: (sql, params) of a call of `rationale_audit_append` (migration 0007) that
    appends `events`, in order, onto the chain's head, in one round trip.

    The call is an expression: run it as `SELECT <call>`, or inside a caller's own statement
    (which must reference its result, or PostgreSQL does not evaluate it). The chain lock it
    takes is held to the end of the transaction.
    """
    now = timezone.now()
    columns: list[list] = [[], [], [], [], [], [], []]
    for spec in events:
        fields = _own_fields(spec, now)
        values = (
            *(fields[name] for name in ("actor_type", "actor_id", "action", "object_type", "object_id")),
            json.dumps(spec.data, ensure_ascii=False),
            event_body(**fields).encode(),
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    sql, params = [], [_CHAIN_LOCK_KEY, now]
    for column, sql_type in zip(columns, _APPEND_ARRAY_TYPES, strict=True):
        array_sql, array_params = array_param(column, sql_type)
        sql.append(array_sql)
        params += array_params
    return f"rationale_audit_append(%s, %s, {', '.join(sql)})", params


def audit_record_many(*, events: list[EventSpec]) -> int:
    """Append events in order under one lock acquisition (bulk ingest, a worker's batch)."""
    if not events:
        return 0
    table, columns = AuditEvent._meta.db_table, ", ".join(EVENT_COLUMNS)
    if connection.vendor == "postgresql" and len(events) < COPY_MIN_EVENTS:
        # Lock, head and rows in one round trip, the hashes computed by the function. Outside
        # a transaction the statement is its own, so it needs no BEGIN and COMMIT either.
        call, params = audit_append_call(events)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {call}", params)  # noqa: S608 - a fixed call; values are parameters
        return len(events)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        rows = _chained(events)
        for row in rows:
            row[_DATA] = json.dumps(row[_DATA], ensure_ascii=False)
        if connection.vendor == "postgresql" and len(rows) >= COPY_MIN_EVENTS:
            # Rows are sent in order and take their ids from the sequence in that order.
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            # One multi-row INSERT, written by hand: the ids follow row order, which is chain
            # order, and bulk_create of one event cost 0.77 ms of CPU against 0.41 ms (stop 8).
            one = "(" + ", ".join(["%s"] * len(EVENT_COLUMNS)) + ")"
            for start in range(0, len(rows), _INSERT_ROWS):
                chunk = rows[start : start + _INSERT_ROWS]
                params = []
                for row in chunk:
                    row[0] = connection.ops.adapt_datetimefield_value(row[0])
                    params.extend(row)
                values = ", ".join([one] * len(chunk))
                cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {values}", params)  # noqa: S608
    return len(rows)


def _event(row: list) -> AuditEvent:
    return AuditEvent(**dict(zip(EVENT_COLUMNS, row, strict=True)))


def _chained(events: list[EventSpec]) -> list[list]:
    """Column values (EVENT_COLUMNS order) of the events linked onto the chain's head.

    Takes the chain lock: call inside atomic(), and write the rows before it commits.
    """
    prev = lock_chain()
    now = timezone.now()
    rows = []
    for spec in events:
        fields = _own_fields(spec, now)
        digest = event_hash(prev_hash=prev, **fields)
        rows.append([*fields.values(), prev, digest])
        prev = digest
    return rows


def _own_fields(spec: EventSpec, now: datetime) -> dict[str, Any]:
    """An event's own fields, in EVENT_COLUMNS order (all but prev_hash and hash): what
    event_body covers, whichever side computes the hash."""
    return {
        "created_at": now,
        "actor_type": str(spec.actor.type),
        "actor_id": spec.actor.id,
        "action": str(spec.action),
        "object_type": spec.object_type,
        "object_id": spec.object_id,
        "data": spec.data,
    }
