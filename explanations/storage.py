"""The explanations app's SQL: the statements on the main road, each beside its portable twin.

On PostgreSQL:
- `record_decisions`: a few decisions (a single POST, a small bulk), their pending explanations,
  their audit events and an Idempotency-Key's record in ONE statement, which is its own
  transaction: no BEGIN, no COMMIT, one round trip. Many decisions go with COPY in a transaction.
- `explanations_pending_insert`: a row of defaults per decision, all but three columns literals.
- `claim`: pending -> running for a batch, SKIP LOCKED, in one statement.
- `store`: a batch's results as one JSON document, joined in one UPDATE.

Through the ORM each cost the web process or the worker more CPU than the work itself.
tests/explanations/test_storage.py holds every pair equal.
"""

from __future__ import annotations

import json

import orjson
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from audit.events import EventSpec
from audit.services import audit_record_many
from audit.storage import append_call
from config.postgresql import array_param
from decisions.models import Decision, IdempotencyRecord
from decisions.storage import decisions_insert

from .models import Explanation

# Up to this many decisions, one statement on PostgreSQL; from about 16 on, COPY is cheaper.
ONE_STATEMENT_MAX = 8


# ---------------------------------------------------------------------------- recording
def record_decisions(
    decisions: list[Decision], events: list[EventSpec], idempotency: IdempotencyRecord | None
) -> dict:
    """Write decisions, their pending explanations, their audit events and an Idempotency-Key's
    record, all or nothing; return {decision id: explanation id}. If the key's record cannot be
    written (a concurrent request took the key), IntegrityError and nothing is written."""
    if connection.vendor == "postgresql" and len(decisions) <= ONE_STATEMENT_MAX:
        return record_decisions_in_one_statement(decisions, events, idempotency)
    return record_decisions_in_transaction(decisions, events, idempotency)


def record_decisions_in_transaction(
    decisions: list[Decision], events: list[EventSpec], idempotency: IdempotencyRecord | None
) -> dict:
    """Any database, and many decisions on PostgreSQL (COPY): one statement per table."""
    with transaction.atomic():
        decisions_insert(decisions)
        ids = explanations_pending_insert(decisions)
        audit_record_many(events=events)
        if idempotency is not None:
            idempotency.save(force_insert=True)
    return ids


def record_decisions_in_one_statement(
    decisions: list[Decision], events: list[EventSpec], idempotency: IdempotencyRecord | None
) -> dict:
    """PostgreSQL: the decisions' INSERT and the explanations' (which references rows of the same
    statement; the foreign key is checked at commit) are CTEs; the audit events are appended by
    `rationale_audit_append` (audit migration 0007), which takes the chain lock and reads the head
    inside the statement, called once from the target list of an aggregate that reads the
    INSERTs to the end: the lock is taken after the rows are written and held only for the
    events' insert and the commit. The key's record is one more CTE joined into the aggregate,
    inserted before the lock is taken; if it fails, the whole statement is rolled back."""
    quote = connection.ops.quote_name
    fields = Decision._meta.concrete_fields
    pk = quote(Decision._meta.pk.column)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    pending, pending_params = _pending_insert(decisions)
    append, append_params = append_call(events, now=timezone.now())
    also_cte, also_join, also_params = "", "", []
    if idempotency is not None:
        also, also_params = _insert_returning_one(idempotency)
        also_cte, also_join = f"also AS ({also}), ", " CROSS JOIN also"
    # Identifiers come from the models' metadata; every value is a parameter.
    sql = (
        f"WITH {also_cte}recorded AS (INSERT INTO {quote(Decision._meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(field.column) for field in fields)}) VALUES {', '.join([one] * len(decisions))} "
        f"RETURNING {pk}), "
        f"pending AS ({pending}), "
        "written AS MATERIALIZED (SELECT array_agg(pending.decision_id) AS decisions, array_agg(pending.id) AS ids "
        f"FROM pending JOIN recorded ON recorded.{pk} = pending.decision_id{also_join}) "
        f"SELECT written.decisions, written.ids, {append} FROM written"
    )
    params = [
        field.get_db_prep_save(getattr(d, field.attname), connection) for d in decisions for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*also_params, *params, *pending_params, *append_params])
        decision_ids, explanation_ids, _appended = cursor.fetchone()
    return dict(zip(decision_ids, explanation_ids, strict=True))


def _insert_returning_one(record: IdempotencyRecord) -> tuple[str, list]:
    """(sql, params) of INSERT ... RETURNING 1 of one unsaved row, from the model's metadata."""
    quote = connection.ops.quote_name
    fields = [field for field in record._meta.concrete_fields if not field.primary_key]
    values = ", ".join(["%s"] * len(fields))
    sql = (
        f"INSERT INTO {quote(record._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES ({values}) RETURNING 1"
    )
    return sql, [field.get_db_prep_save(getattr(record, field.attname), connection) for field in fields]


def explanations_pending_insert(decisions: list[Decision]) -> dict:
    """A pending explanation for each new decision, queued when it was decided; return
    {decision id: explanation id}."""
    if connection.vendor == "postgresql":
        return explanations_pending_insert_postgresql(decisions)
    return explanations_pending_insert_portable(decisions)


def explanations_pending_insert_portable(decisions: list[Decision]) -> dict:
    explanations = Explanation.objects.bulk_create(
        Explanation(decision=d, model_version_id=d.model_version_id, queued_at=d.decided_at)
        for d in decisions
    )
    return {e.decision_id: e.pk for e in explanations}


def explanations_pending_insert_postgresql(decisions: list[Decision]) -> dict:
    sql, params = _pending_insert(decisions)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


def _pending_insert(decisions: list[Decision]) -> tuple[str, list]:
    """PostgreSQL: one INSERT ... SELECT FROM unnest of the decisions' ids, in order, RETURNING
    (decision_id, id). The row is all defaults but those: bulk_create would prepare and send each
    of the 26 columns of every row, most of them empty JSON. Placeholders are positional, so the
    statement can be a CTE of a larger one."""
    table = Explanation._meta.db_table
    decision_ids, decision_ids_params = array_param([d.pk for d in decisions], "uuid")
    version_ids, version_ids_params = array_param([d.model_version_id for d in decisions], "bigint")
    # The table is the model's; the values are parameters or the columns' empty defaults.
    sql = (
        f"INSERT INTO {table} (decision_id, model_version_id, is_current, status, method, params, "  # noqa: S608
        "output_space, explained_class, contributions, raw_values, versions, model_sha256, "
        "background_sha256, device, worker, queued_at, attempts, error) "
        "SELECT u.decision_id, u.model_version_id, true, 'pending', '', '{}', '', '', '{}', '[]', '{}', "
        f"'', '', '', '', %s, 0, '' FROM unnest({decision_ids}, {version_ids}) "
        "WITH ORDINALITY AS u(decision_id, model_version_id, n) ORDER BY u.n RETURNING decision_id, id"
    )
    return sql, [decisions[0].decided_at, *decision_ids_params, *version_ids_params]


# ---------------------------------------------------------------------------- claiming
def claim(*, model_version_id: int, limit: int, worker: str) -> list[int]:
    """pending -> running for up to `limit` explanations of one version, oldest first, each once
    however many workers claim at the same time; returns their ids, sorted."""
    if connection.vendor == "postgresql":
        return claim_postgresql(model_version_id=model_version_id, limit=limit, worker=worker)
    return claim_portable(model_version_id=model_version_id, limit=limit, worker=worker)


def claim_postgresql(*, model_version_id: int, limit: int, worker: str) -> list[int]:
    """One statement. The candidates are a CTE, evaluated once: as an IN (subquery) the planner
    may re-run a LIMIT ... SKIP LOCKED and claim more than `limit`."""
    table = Explanation._meta.db_table
    # The table is the model's; every value is a parameter.
    sql = (
        f"WITH picked AS (SELECT id FROM {table} WHERE model_version_id = %s AND status = 'pending' "  # noqa: S608
        "ORDER BY queued_at, id LIMIT %s FOR UPDATE SKIP LOCKED) "
        f"UPDATE {table} AS e SET status = 'running', started_at = now(), attempts = e.attempts + 1, "
        "worker = %s FROM picked WHERE e.id = picked.id AND e.status = 'pending' RETURNING e.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [model_version_id, limit, worker])
        return sorted(pk for (pk,) in cursor.fetchall())


def claim_portable(*, model_version_id: int, limit: int, worker: str) -> list[int]:
    """The status condition in the UPDATE makes the claim safe where row locks are not available
    (SQLite, whose writers are serialised anyway)."""
    with transaction.atomic():
        candidates = list(
            Explanation.objects.select_for_update(skip_locked=True)
            .filter(model_version_id=model_version_id, status=Explanation.Status.PENDING)
            .order_by("queued_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        if not candidates:
            return []
        Explanation.objects.filter(id__in=candidates, status=Explanation.Status.PENDING).update(
            status=Explanation.Status.RUNNING,
            started_at=timezone.now(),
            attempts=F("attempts") + 1,
            worker=worker,
        )
    return list(
        Explanation.objects.filter(worker=worker, status=Explanation.Status.RUNNING)
        .order_by("id")
        .values_list("id", flat=True)
    )


def features_of(ids: list[int]) -> list:
    """The decisions' features of explanations `ids` (sorted), in that order."""
    if connection.vendor == "postgresql":
        return features_of_postgresql(ids)
    return features_of_portable(ids)


def features_of_portable(ids: list[int]) -> list:
    return list(
        Explanation.objects.filter(id__in=ids).order_by("id").values_list("decision__features", flat=True)
    )


def features_of_postgresql(ids: list[int]) -> list:
    # One array parameter: the ORM's IN (%s, ...) of a batch's ids made a statement too long
    # for psycopg's query cache, and building it cost more than the query.
    sql = (
        f"SELECT d.features FROM {Explanation._meta.db_table} e "  # noqa: S608
        f"JOIN {Decision._meta.db_table} d ON d.id = e.decision_id WHERE e.id = ANY(%s) ORDER BY e.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [ids])
        # Django has psycopg hand jsonb over as text (JSONField decodes it).
        return [orjson.loads(features) for (features,) in cursor.fetchall()]


# ---------------------------------------------------------------------------- storing
# What differs per row of a batch; everything else is one value for the whole batch.
PER_ROW = (
    "explained_class",
    "base_value",
    "predicted_value",
    "contributions",
    "raw_values",
    "additivity_error",
)
PER_BATCH = (
    "status",
    "method",
    "params",
    "output_space",
    "versions",
    "model_sha256",
    "background_sha256",
    "device",
    "compute_ms",
    "batch_size",
    "finished_at",
    "error",
)


def store(*, worker: str, rows: list[tuple], batch: dict) -> list[tuple[int, object]]:
    """Write results onto the rows still claimed by `worker` (the sweeper may have handed some
    back, and another worker claimed them again); return (id, decision_id) of those, in id order.
    `rows` are (id, *PER_ROW values); `batch` maps PER_BATCH to one value each. Call inside the
    transaction that also writes the audit events."""
    if connection.vendor == "postgresql":
        return store_postgresql(worker=worker, rows=rows, batch=batch)
    return store_portable(worker=worker, rows=rows, batch=batch)


def store_postgresql(*, worker: str, rows: list[tuple], batch: dict) -> list[tuple[int, object]]:
    """One statement: the per-row values as one JSON document, the per-batch values once. orjson
    writes each float as the shortest text that reads back as the same double (as repr does), so
    every value reaches float8 exactly; values are finite (explanations.compute refuses others)."""
    table = Explanation._meta.db_table
    sets = ", ".join(
        [f"{name} = u.{name}" for name in PER_ROW]
        + [f"{name} = %({name})s{'::jsonb' if name in ('params', 'versions') else ''}" for name in PER_BATCH]
    )
    # Identifiers are this module's constants and the model's table; every value is a parameter.
    sql = (
        f"UPDATE {table} AS e SET {sets} FROM jsonb_to_recordset(%(rows)s::jsonb) AS u("  # noqa: S608
        "id bigint, explained_class text, base_value float8, predicted_value float8, contributions jsonb, "
        "raw_values jsonb, additivity_error float8) "
        "WHERE e.id = u.id AND e.worker = %(worker)s AND e.status = 'running' "
        "RETURNING e.id, e.decision_id"
    )
    params = {
        **batch,
        "params": json.dumps(batch["params"]),
        "versions": json.dumps(batch["versions"]),
        "rows": orjson.dumps([dict(zip(("id", *PER_ROW), row, strict=True)) for row in rows]).decode(),
        "worker": worker,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(cursor.fetchall())


def store_portable(*, worker: str, rows: list[tuple], batch: dict) -> list[tuple[int, object]]:
    """Any database: lock the rows still ours, then one UPDATE per row in one pipeline."""
    ours = dict(
        Explanation.objects.select_for_update()
        .filter(id__in=[r[0] for r in rows], worker=worker, status=Explanation.Status.RUNNING)
        .values_list("id", "decision_id")
    )
    updated = [
        Explanation(pk=pk, decision_id=ours[pk], **dict(zip(PER_ROW, values, strict=True)), **batch)
        for pk, *values in rows
        if pk in ours
    ]
    update_rows(updated, [*PER_ROW, *PER_BATCH])
    return sorted((e.pk, e.decision_id) for e in updated)


def update_rows(rows: list[Explanation], fields: list[str]) -> None:
    """UPDATE each row's `fields`, all rows sent in one pipeline (executemany). Django's
    bulk_update builds one CASE WHEN per field over all rows, whose expression resolving cost far
    more than the SHAP computation of a batch."""
    meta = Explanation._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    # Identifiers come from the model's metadata; every value is a parameter.
    sql = (
        f"UPDATE {quote(meta.db_table)} SET "  # noqa: S608
        + ", ".join(f"{quote(c.column)} = %s" for c in columns)
        + f" WHERE {quote(meta.pk.column)} = %s"
    )
    params = [
        [c.get_db_prep_save(getattr(row, c.attname), connection) for c in columns] + [row.pk] for row in rows
    ]
    if params:
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)


def can_store_in_background() -> bool:
    """Whether another connection (the drain's store thread) can see and lock the rows this one
    claimed: on PostgreSQL outside a transaction. Inside one (tests, a caller's atomic block) the
    claims are not committed yet; SQLite allows one writer at a time anyway."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block
