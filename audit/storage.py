"""Appending to the chain: the audit ledger's SQL. Every write of the platform ends here, so its
cost is on every path.

The chain is ordered by one transaction-scoped advisory lock on PostgreSQL; SQLite serialises
writers itself. On PostgreSQL a few events are appended by `rationale_audit_append` (migration
0007), which takes the lock, reads the head and inserts the events, hashing them as
audit.events does, in one round trip; many are sent with COPY after Python hashed them. The
portable path hashes in Python and inserts with one multi-row INSERT. tests/audit/test_storage.py
holds the three equal.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.db import connection, transaction

from config.postgresql import array_param

from .events import EVENT_COLUMNS, GENESIS_HASH, EventSpec, chained, event_body, own_fields
from .models import AuditEvent

CHAIN_LOCK_KEY = 0x52415449  # "RATI": the advisory lock that orders the chain
# From this many events on, COPY: preparing many rows' parameters cost more than storing them.
COPY_MIN_EVENTS = 16
_INSERT_ROWS = 500  # per INSERT where COPY is not used: well inside SQLite's 32,766 parameters
_DATA = EVENT_COLUMNS.index("data")
# The types of rationale_audit_append's arrays: actor types, actor ids, actions, object types,
# object ids, data (JSON text), bodies.
_APPEND_ARRAY_TYPES = ("text", "text", "text", "text", "text", "text", "bytea")


def chain_head_locked() -> str:
    """Take the chain lock for the current transaction; return the head hash."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Lock, then read, inside one VOLATILE function (migration 0005): its read takes a
            # snapshot after the lock is granted, so it sees the previous holder's commit. A plain
            # statement doing both would read with a snapshot taken before the wait.
            cursor.execute("SELECT rationale_audit_lock_head(%s)", [CHAIN_LOCK_KEY])
        else:
            # SQLite: writers are serialised by the database already.
            cursor.execute(f"SELECT hash FROM {AuditEvent._meta.db_table} ORDER BY id DESC LIMIT 1")  # noqa: S608
        row = cursor.fetchone()
    return row[0] if row and row[0] else GENESIS_HASH


def events_append(events: list[EventSpec], *, now: datetime) -> None:
    """Append `events`, in order, onto the chain's head, in the caller's transaction. Outside one,
    a few events on PostgreSQL go in one statement that is its own transaction: no BEGIN and
    COMMIT around it."""
    if connection.vendor == "postgresql" and len(events) < COPY_MIN_EVENTS:
        call, params = append_call(events, now=now)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {call}", params)  # noqa: S608 - a fixed call; values are parameters
        return
    # The lock lasts to the end of the transaction: the rows must be written inside it.
    with transaction.atomic(savepoint=False):
        rows = chained(events, head=chain_head_locked(), now=now)
        if connection.vendor == "postgresql":
            events_copy(rows)
        else:
            events_insert(rows)


def append_call(events: list[EventSpec], *, now: datetime) -> tuple[str, list]:
    """PostgreSQL: (sql, params) of a call of `rationale_audit_append` that appends `events`.

    The call is an expression: run it as `SELECT <call>`, or inside a caller's own statement
    (which must reference its result, or PostgreSQL does not evaluate it). The chain lock it
    takes is held to the end of the transaction.
    """
    columns: list[list] = [[], [], [], [], [], [], []]
    for spec in events:
        fields = own_fields(spec, now)
        values = (
            *(fields[name] for name in ("actor_type", "actor_id", "action", "object_type", "object_id")),
            json.dumps(spec.data, ensure_ascii=False),
            event_body(**fields).encode(),
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    sql, params = [], [CHAIN_LOCK_KEY, now]
    for column, sql_type in zip(columns, _APPEND_ARRAY_TYPES, strict=True):
        array_sql, array_params = array_param(column, sql_type)
        sql.append(array_sql)
        params += array_params
    return f"rationale_audit_append(%s, %s, {', '.join(sql)})", params


def events_copy(rows: list[list]) -> None:
    """PostgreSQL: chained rows with COPY; they take their ids from the sequence in row order."""
    table, columns = AuditEvent._meta.db_table, ", ".join(EVENT_COLUMNS)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [json.dumps(v, ensure_ascii=False) if i == _DATA else v for i, v in enumerate(row)]
            )


def events_insert(rows: list[list]) -> None:
    """Any database: chained rows in multi-row INSERTs, whose ids follow row order (chain order),
    which bulk_create does not promise."""
    table, columns = AuditEvent._meta.db_table, ", ".join(EVENT_COLUMNS)
    one = "(" + ", ".join(["%s"] * len(EVENT_COLUMNS)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _INSERT_ROWS):
            chunk = rows[start : start + _INSERT_ROWS]
            params = []
            for row in chunk:
                row = list(row)
                row[0] = connection.ops.adapt_datetimefield_value(row[0])
                row[_DATA] = json.dumps(row[_DATA], ensure_ascii=False)
                params.extend(row)
            values = ", ".join([one] * len(chunk))
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {values}", params)  # noqa: S608
