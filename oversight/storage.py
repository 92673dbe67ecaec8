"""PostgreSQL's side of the exports: a decisions export built by the database and streamed with
COPY, and the latency percentiles of the overview.

The COPY query builds each line from the same declaration the portable writer reads
(oversight.export_lines), so no Python object is made per column; tests hold the two writers'
bytes equal. CSV with a quote and a delimiter that JSON text never holds raw (control characters
are escaped in it) passes each line through untouched; the text format would double backslashes.

A large export is cut at decided_at quantiles into PARALLEL_PARTS ranges built at once by as many
backends, all reading one snapshot (pg_export_snapshot, as pg_dump -j does): the first range
streams out while the others spool to temporary files and follow in order.
"""

from __future__ import annotations

import itertools
import tempfile
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import DurationField, ExpressionWrapper, F

from decisions.models import Decision, DecisionModel, ModelVersion
from explanations.models import Explanation
from reviews.models import CaseAction, ReviewRequest

from . import export_lines
from .export_filters import ExportFilters, versions_selected
from .export_lines import DECISION_LINE, EXPLANATION_OBJECT, HUMAN_REVIEW_OBJECT, REVIEW_OBJECT, Field, blocks

PARALLEL_PARTS = 2  # PostgreSQL backends building one large decisions export (one per core is plenty)
PARALLEL_MIN_ROWS = 50_000  # below this, one backend is quicker than coordinating several
# Inside a line, JSON escaping leaves this byte sequence only where the writer put it: the
# marker of a decision with no current explanation.
_NO_EXPLANATION = b'"explanation":null,"reviews":'


def decision_lines_jsonl(
    filters: ExportFilters, until: datetime | None, counts: dict
) -> Iterator[str | bytes]:
    if connection.vendor == "postgresql":
        return decision_lines_jsonl_postgresql(filters, until, counts)
    return export_lines.decision_lines_jsonl_portable(filters, until, counts)


# ---------------------------------------------------------------------------- the line in SQL
def _sql_value(field: Field) -> str:
    column = field.column
    if field.kind == "id":
        return f"""coalesce('"' || {column} || '"', 'null')"""
    if field.kind == "text":
        return f"coalesce(to_json({column})::text, '{field.empty}')"
    if field.kind == "time":
        # As Python's isoformat(timespec="microseconds") in UTC.
        return (
            f"""coalesce('"' || to_char(({column}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') """
            """|| '+00:00"', 'null')"""
        )
    if field.kind == "json":
        return f"coalesce(nullif(({column})::text, ''), '{field.empty}')"
    # Numbers print in their shortest round-trip form (extra_float_digits, PostgreSQL 12 on),
    # booleans as true/false.
    return f"coalesce(({column})::text, 'null')"


def _sql_members(fields: tuple[Field, ...]) -> list[str]:
    """concat() arguments writing `"key":value,...` (no braces)."""
    out = []
    for i, field in enumerate(fields):
        out.append(f"""'{"," if i else ""}"{field.key}":'""")
        out.append(_sql_value(field))
    return out


def _sql_object(fields: tuple[Field, ...]) -> str:
    return "concat('{', " + ", ".join(_sql_members(fields)) + ", '}')"


def _decisions_copy_sql(where: list[str]) -> str:
    reviews = (
        f"SELECT '[' || string_agg({_sql_object(REVIEW_OBJECT)}, ',' ORDER BY r.received_at, r.id) || ']' "  # noqa: S608
        f"FROM {ReviewRequest._meta.db_table} r WHERE r.decision_id = d.id"
    )
    explanation = f"CASE WHEN e.id IS NULL THEN 'null' ELSE {_sql_object(EXPLANATION_OBJECT)} END"
    # Only a human decision has a review behind it: the request that recorded it (h) and the step
    # that closed it (a), looked up for those rows alone.
    closing = (
        f"SELECT c.id FROM {CaseAction._meta.db_table} c WHERE c.request_id = h.id "  # noqa: S608
        f"AND c.kind = '{CaseAction.Kind.OVERTURNED.value}' ORDER BY c.created_at DESC, c.id DESC LIMIT 1"
    )
    human_review = (
        f"CASE WHEN d.kind = '{Decision.Kind.HUMAN.value}' THEN coalesce(("  # noqa: S608
        f"SELECT {_sql_object(HUMAN_REVIEW_OBJECT)} FROM {ReviewRequest._meta.db_table} h "
        f"LEFT JOIN {CaseAction._meta.db_table} a ON a.id = ({closing}) "
        "WHERE h.human_decision_id = d.id ORDER BY h.id LIMIT 1), 'null') ELSE 'null' END"
    )
    line = (
        "concat('{', "
        + ", ".join(_sql_members(DECISION_LINE))
        + f""", ',"explanation":', {explanation}, ',"reviews":', coalesce(({reviews}), '[]'), """
        + f"""',"human_review":', {human_review}, '}}')"""
    )
    # Identifiers come from the models' metadata; every value is a parameter.
    sql = (
        f"SELECT {line} FROM {Decision._meta.db_table} d "  # noqa: S608
        f"JOIN {ModelVersion._meta.db_table} v ON v.id = d.model_version_id "
        f"JOIN {DecisionModel._meta.db_table} m ON m.id = v.model_id "
        f"LEFT JOIN {Explanation._meta.db_table} e ON e.decision_id = d.id AND e.is_current "
        f"WHERE {' AND '.join(where)} ORDER BY d.decided_at, d.id"
    )
    return f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"


def _decisions_where(filters: ExportFilters, until: datetime | None) -> tuple[list[str], list]:
    where, params = ["TRUE"], []
    if filters.model:
        # Resolved here, so the planner sees the decisions' own column and estimates row counts.
        where.append("d.model_version_id = ANY(%s)")
        params.append(list(versions_selected(filters).values_list("id", flat=True)))
    for condition, value in (
        ("d.decided_at <= %s", until),
        ("d.outcome = %s", filters.outcome or None),
        ("d.decided_at >= %s", filters.date_from),
        ("d.decided_at < %s", filters.date_to),
    ):
        if value is not None:
            where.append(condition)
            params.append(value)
    return where, params


def decision_lines_jsonl_postgresql(
    filters: ExportFilters, until: datetime | None, counts: dict
) -> Iterator[bytes]:
    """`COPY (SELECT line ...) TO STDOUT`, each line built by the database. Inside a caller's
    transaction (which may hold unsaved rows no other backend can see) one backend does it all,
    in one statement."""
    where, params = _decisions_where(filters, until)
    owns_transaction = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        parts = 1
        if owns_transaction and PARALLEL_PARTS > 1:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            quantiles = [i / PARALLEL_PARTS for i in range(1, PARALLEL_PARTS)]
            cursor.execute(
                f"SELECT count(*), percentile_disc(%s::float8[]) WITHIN GROUP (ORDER BY d.decided_at) "  # noqa: S608
                f"FROM {Decision._meta.db_table} d WHERE {' AND '.join(where)}",
                [quantiles, *params],
            )
            total, cuts = cursor.fetchone()
            cuts = sorted(set(cuts or []))
            if total >= PARALLEL_MIN_ROWS and cuts:
                parts = len(cuts) + 1
        _copy_settings(cursor)
        if parts == 1:
            yield from _copy_lines(cursor, _decisions_copy_sql(where), params, counts)
            return
        snapshot = cursor.execute("SELECT pg_export_snapshot()").fetchone()[0]
        ranges = [
            (["d.decided_at < %s"], [cuts[0]]),
            *((["d.decided_at >= %s", "d.decided_at < %s"], [lo, hi]) for lo, hi in itertools.pairwise(cuts)),
            (["d.decided_at >= %s"], [cuts[-1]]),
        ]
        spools = [
            _Spool(snapshot, _decisions_copy_sql(where + extra), params + values)
            for extra, values in ranges[1:]
        ]
        try:
            for spool in spools:
                spool.start()
            first_where, first_values = ranges[0]
            yield from _copy_lines(
                cursor, _decisions_copy_sql(where + first_where), params + first_values, counts
            )
            for spool in spools:
                yield from spool.blocks(counts)
        finally:
            for spool in spools:
                spool.close()


def _copy_settings(cursor) -> None:
    # JIT compiling this one long expression costs more than it saves, and parallel query
    # workers would only contend with the backends this export already runs.
    cursor.execute("SET LOCAL jit = off")
    cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")


class _Spool:
    """One range of an export, built by its own backend on the shared snapshot into a temporary
    file while the range before it streams out."""

    def __init__(self, snapshot: str, sql: str, params: list) -> None:
        self.snapshot, self.sql, self.params = snapshot, sql, params
        self.file = tempfile.TemporaryFile(dir=_spool_dir())
        self.counts: dict = {}
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="export-spool", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        own = connections.create_connection(DEFAULT_DB_ALIAS)
        try:
            with own.cursor() as django_cursor:
                own.set_autocommit(False)
                cursor = django_cursor.cursor
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute(f"SET TRANSACTION SNAPSHOT '{self.snapshot}'")  # an id the server made
                _copy_settings(cursor)
                for block in _copy_lines(cursor, self.sql, self.params, self.counts):
                    self.file.write(block)
                own.rollback()
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
            self.error = exc
        finally:
            own.close()

    def blocks(self, counts: dict) -> Iterator[bytes]:
        self.thread.join()
        if self.error is not None:
            raise self.error
        done = counts.get("rows", 0)
        self.file.seek(0)
        while block := self.file.read(export_lines.FLUSH_BYTES):
            yield block
        counts["rows"] = done + self.counts.get("rows", 0)
        if self.counts.get("explanations"):
            counts["explanations"] = counts.get("explanations", 0) + self.counts["explanations"]

    def close(self) -> None:
        self.file.close()


def _spool_dir() -> str:
    path = Path(settings.VAR_DIR) / "exports" / "spool"
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def _copy_lines(cursor, copy_sql: str, params: list, counts: dict) -> Iterator[bytes]:
    rows = explained = 0
    with cursor.copy(copy_sql, params) as copy:
        for block, n in blocks(copy):
            rows += n
            explained += n - block.count(_NO_EXPLANATION)
            counts["rows"] = rows  # progress, read by the export's heartbeat
            yield block
    if explained:
        counts["explanations"] = explained


# ---------------------------------------------------------------------------- overview figures
def explanation_latency_percentiles(version: ModelVersion) -> tuple[float | None, float | None]:
    """p50 and p95 of finished_at - queued_at over the version's done explanations."""
    if connection.vendor == "postgresql":
        sql = (
            "SELECT percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP "  # noqa: S608 - the model's table
            f"(ORDER BY EXTRACT(EPOCH FROM finished_at - queued_at)) FROM {Explanation._meta.db_table} "
            "WHERE model_version_id = %s AND is_current AND status = 'done' AND finished_at IS NOT NULL"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [version.pk])
            values = cursor.fetchone()[0]
        if not values:
            return None, None
        return float(values[0]), float(values[1])
    return explanation_latency_percentiles_portable(version)


def explanation_latency_percentiles_portable(version: ModelVersion) -> tuple[float | None, float | None]:
    """Any database: the durations read and interpolated here, as percentile_cont does. (SQLite,
    the embedded demo, has no percentile function; its data is small.)"""
    durations = sorted(
        d.total_seconds()
        for d in Explanation.objects.filter(
            model_version=version, is_current=True, status="done", finished_at__isnull=False
        )
        .annotate(latency=ExpressionWrapper(F("finished_at") - F("queued_at"), output_field=DurationField()))
        .values_list("latency", flat=True)
    )
    if not durations:
        return None, None
    return _percentile(durations, 0.5), _percentile(durations, 0.95)


def _percentile(ordered: list[float], q: float) -> float:
    """Linear interpolation, as PostgreSQL's percentile_cont."""
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
