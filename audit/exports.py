"""Compliance exports: decisions, audit events, the Art. 30 record; streamed, hashed and signed.

Decisions as JSON Lines on PostgreSQL (the large case): the database builds each line and streams
it with COPY; a large export is split between two backends on one snapshot (see
decision_lines_jsonl_pg). Everything else, and every export on other databases, reads rows with
server-side cursors (`.iterator(chunk_size)` over `values_list`) and splices JSON columns as
text. Either way memory does not grow with the row count. Every export is bounded by a signed
audit checkpoint taken when it starts (events up to its last id, decisions decided before it),
so what it covers is fixed and named in its manifest.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import F, FilteredRelation, Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from config.errors import ApplicationError
from decisions.models import Decision, DecisionModel, ModelVersion
from decisions.schema import FeatureSchema

from . import signing
from .chain import checkpoint_sign
from .manifest import MANIFEST_TYPE, canonical_bytes
from .models import Action, AuditEvent, Checkpoint, Export
from .selectors import review_model
from .services import Actor, audit_record

logger = logging.getLogger(__name__)

CHUNK_ROWS = 2000
FLUSH_BYTES = 1 << 16
PROGRESS_SECONDS = 1.0
PARALLEL_PARTS = 2  # PostgreSQL backends building one large decisions export (one per core is plenty)
PARALLEL_MIN_ROWS = 50_000  # below this, one backend is quicker than coordinating several
_encode_str = json.encoder.encode_basestring  # the C encoder: a JSON string literal with quotes


# ---------------------------------------------------------------------------- filters
@dataclass(frozen=True)
class ExportFilters:
    model: str = ""
    model_version: str = ""
    outcome: str = ""
    actions: tuple[str, ...] = ()
    date_from: datetime | None = None
    date_to: datetime | None = None  # exclusive

    @classmethod
    def from_raw(cls, raw: dict | None) -> ExportFilters:
        """Validate a filter dict from a form, the API or a stored export; ApplicationError names each bad one."""
        raw = raw or {}
        errors: dict[str, str] = {}
        model = str(raw.get("model") or "").strip()
        version = str(raw.get("model_version") or "").strip()
        if model and not DecisionModel.objects.filter(name=model).exists():
            errors["model"] = f"no model named {model!r}"
        if version and not model:
            errors["model_version"] = "give the model as well"
        elif version and not ModelVersion.objects.filter(model__name=model, version=version).exists():
            errors["model_version"] = f"{model}@{version} is not registered"
        outcome = str(raw.get("outcome") or "").strip()
        if len(outcome) > 64:
            errors["outcome"] = "at most 64 characters"
        actions = raw.get("actions") or []
        if isinstance(actions, str):
            actions = [a for a in actions.split(",") if a.strip()]
        unknown = sorted(set(actions) - set(Action.values))
        if unknown:
            errors["actions"] = f"unknown event kinds: {', '.join(unknown)}"
        date_from = _parse_when(raw.get("date_from"), end=False, errors=errors, name="date_from")
        date_to = _parse_when(raw.get("date_to"), end=True, errors=errors, name="date_to")
        if date_from and date_to and date_from >= date_to:
            errors["date_to"] = "must be after date_from"
        if errors:
            raise ApplicationError("invalid export filters", fields=errors)
        return cls(model, version, outcome, tuple(sorted(actions)), date_from, date_to)

    def to_dict(self) -> dict:
        out: dict[str, Any] = {}
        for name in ("model", "model_version", "outcome"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.actions:
            out["actions"] = list(self.actions)
        if self.date_from:
            out["date_from"] = self.date_from.isoformat()
        if self.date_to:
            out["date_to"] = self.date_to.isoformat()
        return out


def _parse_when(value: Any, *, end: bool, errors: dict, name: str) -> datetime | None:
    """A date (a whole day: `date_to` includes it) or an ISO datetime; naive means UTC."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    try:
        # A bare date first: parse_datetime would read it as midnight and drop date_to's day.
        day = parse_date(text)
        parsed = None if day else parse_datetime(text)
    except ValueError:
        day = parsed = None
    if day is not None:
        parsed = datetime.combine(day + timedelta(days=1) if end else day, dt_time.min)
    if parsed is None:
        errors[name] = "must be an ISO date (2026-01-31) or datetime"
        return None
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


# ---------------------------------------------------------------------------- selecting rows
def decisions_selected(filters: ExportFilters, *, until: datetime | None = None) -> QuerySet[Decision]:
    qs = Decision.objects.all()
    if until is not None:
        qs = qs.filter(decided_at__lte=until)
    if filters.model:
        qs = qs.filter(model_version__model__name=filters.model)
    if filters.model_version:
        qs = qs.filter(model_version__version=filters.model_version)
    if filters.outcome:
        qs = qs.filter(outcome=filters.outcome)
    if filters.date_from:
        qs = qs.filter(decided_at__gte=filters.date_from)
    if filters.date_to:
        qs = qs.filter(decided_at__lt=filters.date_to)
    return qs


def events_selected(filters: ExportFilters, *, until_id: int | None = None) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.all()
    if until_id is not None:
        qs = qs.filter(id__lte=until_id)
    if filters.actions:
        qs = qs.filter(action__in=filters.actions)
    if filters.date_from:
        qs = qs.filter(created_at__gte=filters.date_from)
    if filters.date_to:
        qs = qs.filter(created_at__lt=filters.date_to)
    return qs


def versions_selected(filters: ExportFilters) -> QuerySet[ModelVersion]:
    qs = (
        ModelVersion.objects.select_related("model")
        .defer("artifact", "background")
        .order_by("model__name", "id")
    )
    if filters.model:
        qs = qs.filter(model__name=filters.model)
    if filters.model_version:
        qs = qs.filter(version=filters.model_version)
    return qs


def expected_rows(kind: str, filters: ExportFilters) -> int:
    if kind == Export.Kind.DECISIONS:
        return decisions_selected(filters).count()
    if kind == Export.Kind.EVENTS:
        return events_selected(filters).count()
    return versions_selected(filters).count()


# ---------------------------------------------------------------------------- encoding
def _js(value: Any) -> str:
    """One JSON scalar, fast: the row loop's hot path."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _encode_str(value)
    if isinstance(value, datetime):
        return '"' + value.astimezone(UTC).isoformat(timespec="microseconds") + '"'
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat(timespec="microseconds")


DECISION_FIELDS = (
    "id",
    "model_version__model__name",
    "model_version__version",
    "kind",
    "subject_ref",
    "reference",
    "decided_at",
    "score",
    "outcome",
    "favourable",
    "features_sha256",
    "personal_data_erased_at",
    "features_json",
    "current__status",
    "current__method",
    "current__base_value",
    "current__additivity_error",
    "current__model_sha256",
    "current__finished_at",
    "contributions_json",
)
DECISION_CSV_HEADER = [
    "id",
    "model",
    "model_version",
    "kind",
    "subject_ref",
    "reference",
    "decided_at",
    "score",
    "outcome",
    "favourable",
    "features_sha256",
    "personal_data_erased_at",
    "features",
    "explanation_status",
    "explanation_method",
    "explanation_base_value",
    "explanation_additivity_error",
    "explanation_model_sha256",
    "explanation_finished_at",
    "explanation_contributions",
    "reviews",
]
REVIEW_FIELDS = ("reference", "kind", "status", "received_at", "due_at", "extension_months", "closed_at")


def _decision_rows(filters: ExportFilters, until: datetime | None) -> Iterator[tuple]:
    qs = (
        decisions_selected(filters, until=until)
        .annotate(
            current=FilteredRelation("explanations", condition=Q(explanations__is_current=True)),
            features_json=Cast("features", TextField()),
            contributions_json=Cast("current__contributions", TextField()),
        )
        .order_by("decided_at", "id")
        .values_list(*DECISION_FIELDS)
    )
    return qs.iterator(chunk_size=CHUNK_ROWS)


def _reviews_by_decision(ids: list, review_model) -> dict:
    """Review outcomes of one chunk of decisions (one query per chunk keeps memory flat)."""
    if review_model is None:
        return {}
    out: dict = {}
    rows = (
        review_model.objects.filter(decision_id__in=ids)
        .order_by("received_at", "id")
        .values_list("decision_id", *REVIEW_FIELDS, "human_decision_id")
    )
    for decision_id, *values, human_decision_id in rows:
        item = dict(zip(REVIEW_FIELDS, values, strict=True))
        for key in ("received_at", "due_at", "closed_at"):
            item[key] = _iso(item[key]) or None
        item["human_decision"] = str(human_decision_id) if human_decision_id else None
        out.setdefault(decision_id, []).append(item)
    return out


def _chunks(rows: Iterable[tuple]) -> Iterator[tuple[tuple, ...]]:
    return itertools.batched(rows, CHUNK_ROWS)  # read at call time: tests make chunks small


def decision_lines_jsonl(
    filters: ExportFilters, until: datetime | None, counts: dict
) -> Iterator[str | bytes]:
    if connection.vendor == "postgresql":
        return decision_lines_jsonl_pg(filters, until, counts)
    return decision_lines_jsonl_portable(filters, until, counts)


def decision_lines_jsonl_portable(
    filters: ExportFilters, until: datetime | None, counts: dict
) -> Iterator[str]:
    """Any database: rows through the ORM, lines built here (the PostgreSQL writer's reference)."""
    reviews_model = review_model()
    for chunk in _chunks(_decision_rows(filters, until)):
        reviews = _reviews_by_decision([row[0] for row in chunk], reviews_model)
        parts = []
        for (
            pk,
            model,
            version,
            kind,
            subject_ref,
            reference,
            decided_at,
            score,
            outcome,
            favourable,
            features_sha256,
            erased_at,
            features_json,
            ex_status,
            ex_method,
            ex_base,
            ex_error,
            ex_model_sha,
            ex_finished,
            contributions_json,
        ) in chunk:
            if ex_status is None:
                explanation = "null"
            else:
                counts["explanations"] = counts.get("explanations", 0) + 1
                explanation = (
                    f'{{"status":{_js(ex_status)},"method":{_js(ex_method)},"base_value":{_js(ex_base)},'
                    f'"additivity_error":{_js(ex_error)},"model_sha256":{_js(ex_model_sha)},'
                    f'"finished_at":{_js(ex_finished)},"contributions":{contributions_json or "[]"}}}'
                )
            own_reviews = reviews.get(pk)
            parts.append(
                f'{{"id":"{pk}","model":{_js(model)},"model_version":{_js(version)},"kind":{_js(kind)},'
                f'"subject_ref":{_js(subject_ref)},"reference":{_js(reference)},'
                f'"decided_at":{_js(decided_at)},"score":{_js(score)},"outcome":{_js(outcome)},'
                f'"favourable":{_js(favourable)},"features_sha256":{_js(features_sha256)},'
                f'"personal_data_erased_at":{_js(erased_at)},"features":{features_json},'
                f'"explanation":{explanation},'
                f'"reviews":{json.dumps(own_reviews, separators=(",", ":")) if own_reviews else "[]"}}}\n'
            )
        counts["rows"] = counts.get("rows", 0) + len(chunk)
        yield "".join(parts)


# PostgreSQL builds each line itself and streams it with COPY: no Python object per column, no
# per-row encoding here. The text is byte for byte the portable writer's (a test holds them
# equal): jsonb columns are spliced as PostgreSQL prints them in both, timestamps are written as
# Python's isoformat(timespec="microseconds") in UTC, floats in their shortest round-trip form.
def _sql_str(expr: str) -> str:
    return f"coalesce(to_json({expr})::text, 'null')"


def _sql_num(expr: str) -> str:
    return f"coalesce(({expr})::text, 'null')"


def _sql_when(expr: str) -> str:
    return (
        f"""coalesce('"' || to_char(({expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') """
        """|| '+00:00"', 'null')"""
    )


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


def _decisions_copy_sql(where: list[str]) -> str:
    from decisions.models import ReviewRequest
    from explanations.models import Explanation

    review = (
        "concat('{\"reference\":', "
        + _sql_str("r.reference")
        + ", ',\"kind\":', "
        + _sql_str("r.kind")
        + ", ',\"status\":', "
        + _sql_str("r.status")
        + ", ',\"received_at\":', "
        + _sql_when("r.received_at")
        + ", ',\"due_at\":', "
        + _sql_when("r.due_at")
        + ", ',\"extension_months\":', "
        + _sql_num("r.extension_months")
        + ", ',\"closed_at\":', "
        + _sql_when("r.closed_at")
        + ", ',\"human_decision\":', coalesce('\"' || r.human_decision_id || '\"', 'null'), '}')"
    )
    explanation = (
        "CASE WHEN e.id IS NULL THEN 'null' ELSE concat('{\"status\":', "
        + _sql_str("e.status")
        + ", ',\"method\":', "
        + _sql_str("e.method")
        + ", ',\"base_value\":', "
        + _sql_num("e.base_value")
        + ", ',\"additivity_error\":', "
        + _sql_num("e.additivity_error")
        + ", ',\"model_sha256\":', "
        + _sql_str("e.model_sha256")
        + ", ',\"finished_at\":', "
        + _sql_when("e.finished_at")
        + ", ',\"contributions\":', coalesce(nullif(e.contributions::text, ''), '[]'), '}') END"
    )
    line = (
        'concat(\'{"id":"\', d.id, \'","model":\', '
        + _sql_str("m.name")
        + ", ',\"model_version\":', "
        + _sql_str("v.version")
        + ", ',\"kind\":', "
        + _sql_str("d.kind")
        + ", ',\"subject_ref\":', "
        + _sql_str("d.subject_ref")
        + ", ',\"reference\":', "
        + _sql_str("d.reference")
        + ", ',\"decided_at\":', "
        + _sql_when("d.decided_at")
        + ", ',\"score\":', "
        + _sql_num("d.score")
        + ", ',\"outcome\":', "
        + _sql_str("d.outcome")
        + ", ',\"favourable\":', "
        + _sql_num("d.favourable")
        + ", ',\"features_sha256\":', "
        + _sql_str("d.features_sha256")
        + ", ',\"personal_data_erased_at\":', "
        + _sql_when("d.personal_data_erased_at")
        + ", ',\"features\":', "
        + _sql_num("d.features")
        + ", ',\"explanation\":', "
        + explanation
        + ", ',\"reviews\":', coalesce(("
        + f"SELECT '[' || string_agg({review}, ',' ORDER BY r.received_at, r.id) || ']' "
        + f"FROM {ReviewRequest._meta.db_table} r WHERE r.decision_id = d.id"  # noqa: S608
        + "), '[]'), '}')"
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


# Inside a line, JSON escaping leaves this byte sequence only where the writer put it: the
# marker of a decision with no current explanation.
_NO_EXPLANATION = b'"explanation":null,"reviews":'


def decision_lines_jsonl_pg(filters: ExportFilters, until: datetime | None, counts: dict) -> Iterator[bytes]:
    """PostgreSQL: `COPY (SELECT line ...) TO STDOUT`, each line built by the database.

    CSV with a quote and a delimiter that JSON text never holds raw (control characters are
    escaped in it) passes each line through untouched; the text format would double backslashes.

    A large export is cut at decided_at quantiles into PARALLEL_PARTS ranges built at once by as
    many backends, all reading one snapshot (pg_export_snapshot, as pg_dump -j does): the first
    range streams out while the others spool to temporary files and follow in order. Inside a
    caller's transaction (which may hold unsaved rows no other backend can see) one backend does
    it all, in one statement.
    """
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
    # workers would only contend with the backends this export already runs (bench/RESULTS.md).
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
        while block := self.file.read(FLUSH_BYTES):
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
        for block, n in _blocks(copy):
            rows += n
            explained += n - block.count(_NO_EXPLANATION)
            counts["rows"] = rows  # progress, read by the export's heartbeat
            yield block
    if explained:
        counts["explanations"] = explained


def _blocks(pieces: Iterable[bytes]) -> Iterator[tuple[bytes, int]]:
    """Pieces joined into blocks of at least FLUSH_BYTES (the last may be smaller), each with
    the number of pieces in it."""
    pending: list[bytes] = []
    size = 0
    for piece in pieces:
        pending.append(piece)
        size += len(piece)
        if size >= FLUSH_BYTES:
            yield b"".join(pending), len(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending), len(pending)


def decision_lines_csv(filters: ExportFilters, until: datetime | None, counts: dict) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(DECISION_CSV_HEADER)
    reviews_model = review_model()
    for chunk in _chunks(_decision_rows(filters, until)):
        reviews = _reviews_by_decision([row[0] for row in chunk], reviews_model)
        for row in chunk:
            row = list(row)
            if row[13] is not None:
                counts["explanations"] = counts.get("explanations", 0) + 1
            for i in (6, 11, 18):
                row[i] = _iso(row[i])
            own = reviews.get(row[0])
            writer.writerow([*row, json.dumps(own, separators=(",", ":")) if own else "[]"])
        counts["rows"] = counts.get("rows", 0) + len(chunk)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


EVENT_FIELDS = (
    "id",
    "created_at",
    "actor_type",
    "actor_id",
    "action",
    "object_type",
    "object_id",
    "data_json",
    "prev_hash",
    "hash",
)


def _event_rows(filters: ExportFilters, until_id: int | None) -> Iterator[tuple]:
    qs = (
        events_selected(filters, until_id=until_id)
        .annotate(data_json=Cast("data", TextField()))
        .order_by("id")
        .values_list(*EVENT_FIELDS)
    )
    return qs.iterator(chunk_size=CHUNK_ROWS)


def event_lines_jsonl(filters: ExportFilters, until_id: int | None, counts: dict) -> Iterator[str]:
    for chunk in _chunks(_event_rows(filters, until_id)):
        yield "".join(
            f'{{"id":{pk},"created_at":{_js(created_at)},"actor_type":{_js(actor_type)},'
            f'"actor_id":{_js(actor_id)},"action":{_js(action)},"object_type":{_js(object_type)},'
            f'"object_id":{_js(object_id)},"data":{data_json},"prev_hash":"{prev}","hash":"{digest}"}}\n'
            for pk, created_at, actor_type, actor_id, action, object_type, object_id, data_json, prev, digest in chunk
        )
        counts["rows"] = counts.get("rows", 0) + len(chunk)


def event_lines_csv(filters: ExportFilters, until_id: int | None, counts: dict) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", *EVENT_FIELDS[1:7], "data", "prev_hash", "hash"])
    for chunk in _chunks(_event_rows(filters, until_id)):
        for row in chunk:
            writer.writerow([row[0], _iso(row[1]), *row[2:]])
        counts["rows"] = counts.get("rows", 0) + len(chunk)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def record_of_processing(filters: ExportFilters) -> Iterator[dict]:
    """Art. 30(1) GDPR, one entry per model version, built from the registry."""
    from decisions.models import ApiKey

    recipients_systems = sorted(ApiKey.objects.filter(revoked_at__isnull=True).values_list("name", flat=True))
    for version in versions_selected(filters):
        schema = FeatureSchema.from_dict(version.feature_schema)
        yield {
            "processing": f"{version.model.name}@{version.version}",
            "controller": version.controller,
            "contact": version.contact,
            "purpose": version.purpose,
            "legal_basis": version.legal_basis,
            "significance_and_consequences": " ".join(
                t for t in (version.significance, version.consequences) if t
            ),
            "data_subjects": "people about whom the controller takes automated decisions with this model",
            "data_categories": [
                {"feature": f.name, "label": f.label, "type": f.type, "protected": f.protected}
                for f in schema.features
            ],
            "protected_characteristics": [f.label for f in schema.features if f.protected],
            "recipients": {
                "integrating_systems": recipients_systems,
                "internal_roles": ["caseworker (Art. 22(3) reviews)", "auditor / data protection officer"],
            },
            "third_country_transfers": "none recorded by the platform",
            "retention_days": version.retention_days,
            "retention": (
                f"decision inputs and explanation values erased {version.retention_days} days after the "
                "decision; the decision skeleton and the hash-chained audit log are kept"
            ),
            "security_measures": [
                "append-only, hash-chained audit log with Ed25519-signed checkpoints",
                "API keys and subject access tokens stored as sha256 hashes",
                "role-based access (caseworker, auditor), auditors read-only",
            ],
            "automated_decision_making": {
                "framework": version.framework,
                "explainer": version.explainer,
                "artifact_sha256": version.artifact_sha256,
                "status": version.status,
                "registered_at": _iso(version.created_at),
            },
        }


def record_lines_jsonl(filters: ExportFilters, counts: dict) -> Iterator[str]:
    for entry in record_of_processing(filters):
        counts["rows"] = counts.get("rows", 0) + 1
        yield json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n"


def record_lines_csv(filters: ExportFilters, counts: dict) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = None
    for entry in record_of_processing(filters):
        if columns is None:
            columns = list(entry)
            writer.writerow(columns)
        writer.writerow(
            [v if isinstance(v, str | int) else json.dumps(v, ensure_ascii=False) for v in entry.values()]
        )
        counts["rows"] = counts.get("rows", 0) + 1
    if columns is None:
        writer.writerow(["processing"])
    yield buffer.getvalue()


def export_lines(
    *, kind: str, fmt: str, filters: ExportFilters, checkpoint: Checkpoint | None, counts: dict
) -> Iterator[str]:
    """The export's text, in pieces; `counts` fills in as it goes."""
    until = checkpoint.created_at if checkpoint else None
    if kind == Export.Kind.DECISIONS:
        writer = decision_lines_csv if fmt == Export.Format.CSV else decision_lines_jsonl
        return writer(filters, until, counts)
    if kind == Export.Kind.EVENTS:
        writer = event_lines_csv if fmt == Export.Format.CSV else event_lines_jsonl
        return writer(filters, checkpoint.last_event_id if checkpoint else None, counts)
    writer = record_lines_csv if fmt == Export.Format.CSV else record_lines_jsonl
    return writer(filters, counts)


# ---------------------------------------------------------------------------- services
def export_file_name(export: Export) -> str:
    stamp = export.created_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"rationale-{export.kind.replace('_', '-')}-{stamp}-{str(export.pk)[:8]}.{export.format}"


def export_path(export: Export) -> Path:
    return Path(settings.VAR_DIR) / "exports" / f"{export.pk}.{export.format}"


def export_create(*, user, kind: str, fmt: str, mode: str, filters: dict | None) -> Export:
    """Record what an auditor asked for; a file export is queued for a worker after commit."""
    errors = {}
    if kind not in Export.Kind.values:
        errors["kind"] = f"must be one of {', '.join(Export.Kind.values)}"
    if fmt not in Export.Format.values:
        errors["format"] = f"must be one of {', '.join(Export.Format.values)}"
    if mode not in Export.Mode.values:
        errors["mode"] = f"must be one of {', '.join(Export.Mode.values)}"
    if errors:
        raise ApplicationError("invalid export", fields=errors)
    parsed = ExportFilters.from_raw(filters)
    with transaction.atomic():
        export = Export.objects.create(
            requested_by=user,
            kind=kind,
            format=fmt,
            mode=mode,
            filters=parsed.to_dict(),
            rows_expected=expected_rows(kind, parsed) if mode == Export.Mode.FILE else None,
        )
        export.file_name = export_file_name(export)
        export.save(update_fields=["file_name"])
        audit_record(
            actor=Actor.user(user),
            action=Action.EXPORT_REQUESTED,
            object_type="export",
            object_id=export.pk,
            data={"kind": kind, "format": fmt, "mode": mode, "filters": export.filters},
        )
        if mode == Export.Mode.FILE:
            from .tasks import run_export

            transaction.on_commit(lambda: run_export.delay(export_id=str(export.pk)))
    return export


def export_claim(*, export_id) -> Export | None:
    """pending -> running, once: a redelivered task or a second click finds nothing to do."""
    now = timezone.now()
    claimed = Export.objects.filter(pk=export_id, status=Export.Status.PENDING).update(
        status=Export.Status.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1
    )
    return Export.objects.get(pk=export_id) if claimed else None


def _checkpoint_for_export() -> Checkpoint | None:
    # A fresh checkpoint covers everything up to now (the export's own request event included).
    return checkpoint_sign() or Checkpoint.objects.order_by("-last_event_id").first()


def checkpoint_body(checkpoint: Checkpoint | None) -> dict | None:
    if checkpoint is None:
        return None
    return {
        "size": checkpoint.size,
        "last_event_id": checkpoint.last_event_id,
        "head_hash": checkpoint.head_hash,
        "created_at": checkpoint.created_at.isoformat(timespec="microseconds"),
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
    }


class _Hashing:
    """Counts and hashes the bytes on their way out."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def feed(self, pieces: Iterable[str | bytes]) -> Iterator[bytes]:
        encoded = (piece if isinstance(piece, bytes) else piece.encode() for piece in pieces if piece)
        for block, _ in _blocks(encoded):
            self.digest.update(block)
            self.size += len(block)
            yield block


def export_stream(*, export: Export) -> Iterator[bytes]:
    """Bytes of a streamed export; when the last byte is out, its manifest is signed.

    A client that goes away mid-stream leaves a failed export, never a manifest for a partial file.
    """
    claimed = export_claim(export_id=export.pk)
    if claimed is None:
        return
    checkpoint = _checkpoint_for_export()
    counts: dict = {}
    hashing = _Hashing()
    finished = False
    try:
        lines = export_lines(
            kind=claimed.kind,
            fmt=claimed.format,
            filters=ExportFilters.from_raw(claimed.filters),
            checkpoint=checkpoint,
            counts=counts,
        )
        with _Heartbeat(claimed.pk, counts):
            yield from hashing.feed(lines)
        export_finish(
            export=claimed,
            sha256=hashing.digest.hexdigest(),
            size=hashing.size,
            counts=counts,
            checkpoint=checkpoint,
        )
        finished = True
    finally:
        if not finished:
            export_fail(
                export_id=claimed.pk,
                reason="the stream stopped before the end (client disconnected or error)",
            )


def export_run(*, export_id) -> Export | None:
    """Write a file export under VAR_DIR/exports, with progress on the row; then sign its manifest."""
    export = export_claim(export_id=export_id)
    if export is None:
        return None
    path = export_path(export)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".part")
    checkpoint = _checkpoint_for_export()
    counts: dict = {}
    hashing = _Hashing()
    try:
        lines = export_lines(
            kind=export.kind,
            fmt=export.format,
            filters=ExportFilters.from_raw(export.filters),
            checkpoint=checkpoint,
            counts=counts,
        )
        with open(partial, "wb") as handle, _Heartbeat(export.pk, counts):
            for block in hashing.feed(lines):
                handle.write(block)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        export_fail(export_id=export.pk, reason=f"{type(exc).__name__}: {exc}")
        raise
    return export_finish(
        export=export,
        sha256=hashing.digest.hexdigest(),
        size=hashing.size,
        counts=counts,
        checkpoint=checkpoint,
    )


class _Heartbeat:
    """While an export runs, a thread writes its heartbeat and the rows written so far every
    PROGRESS_SECONDS, for the page's progress bar and for the sweeper.

    A thread, with its own database connection (Django's are per thread): the export's own
    connection may be inside a long read-only COPY, and the sort before the first row of a large
    export can take minutes with no row to count.
    """

    def __init__(self, export_id, counts: dict) -> None:
        self.export_id, self.counts = export_id, counts
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="export-heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self.stop.wait(PROGRESS_SECONDS):
                Export.objects.filter(pk=self.export_id, status=Export.Status.RUNNING).update(
                    heartbeat_at=timezone.now(), rows_written=self.counts.get("rows", 0)
                )
        except Exception:  # noqa: BLE001 - a missed heartbeat is the sweeper's business, not the export's
            logger.exception("export %s: heartbeat stopped", self.export_id)
        finally:
            connection.close()  # this thread's own connection

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def exports_sweep() -> dict:
    """Running exports whose heartbeat stopped (their process died): a file export goes back to
    the queue (writing it again is idempotent) until EXPORT_MAX_ATTEMPTS; a streamed one, whose
    client is gone with the process, fails."""
    from .tasks import run_export

    stale = timezone.now() - timedelta(seconds=settings.EXPORT_STALE_SECONDS)
    requeued = failed = 0
    for export in Export.objects.filter(status=Export.Status.RUNNING, heartbeat_at__lt=stale):
        if export.mode == Export.Mode.FILE and export.attempts < settings.EXPORT_MAX_ATTEMPTS:
            back = Export.objects.filter(
                pk=export.pk, status=Export.Status.RUNNING, attempts=export.attempts, heartbeat_at__lt=stale
            ).update(status=Export.Status.PENDING)
            if back:
                requeued += 1
                transaction.on_commit(lambda pk=str(export.pk): run_export.delay(export_id=pk))
            continue
        why = "the stream's process stopped" if export.mode == Export.Mode.STREAM else "its worker was lost"
        export_fail(
            export_id=export.pk,
            reason=f"no heartbeat for {settings.EXPORT_STALE_SECONDS} s after {export.attempts} attempt(s): {why}",
        )
        failed += 1
    return {"requeued": requeued, "failed": failed}


def export_manifest(
    *, export: Export, sha256: str, size: int, counts: dict, checkpoint: Checkpoint | None
) -> dict:
    manifest = {
        "type": MANIFEST_TYPE,
        "export_id": str(export.pk),
        "kind": export.kind,
        "format": export.format,
        "file_name": export.file_name,
        "filters": export.filters,
        "requested_by": str(export.requested_by_id) if export.requested_by_id else None,
        "requested_at": export.created_at.isoformat(timespec="microseconds"),
        "finished_at": timezone.now().isoformat(timespec="microseconds"),
        "rows": counts.get("rows", 0),
        "counts": {k: v for k, v in counts.items() if k != "rows"},
        "sha256": sha256,
        "size_bytes": size,
        "checkpoint": checkpoint_body(checkpoint),
        "covers": (
            "decisions decided up to the checkpoint's time"
            if export.kind == Export.Kind.DECISIONS
            else "audit events up to the checkpoint's last event"
            if export.kind == Export.Kind.EVENTS
            else "the model registry when the export ran"
        ),
        "key_id": signing.key_id(),
        "public_key_url": "/api/v1/audit/public-key",
    }
    manifest["signature"] = signing.sign(canonical_bytes(manifest))
    return manifest


def export_finish(
    *, export: Export, sha256: str, size: int, counts: dict, checkpoint: Checkpoint | None
) -> Export:
    manifest = export_manifest(export=export, sha256=sha256, size=size, counts=counts, checkpoint=checkpoint)
    with transaction.atomic():
        export.status = Export.Status.DONE
        export.sha256 = sha256
        export.size_bytes = size
        export.rows_written = counts.get("rows", 0)
        export.manifest = manifest
        export.finished_at = timezone.now()
        # Only the attempt that still holds the claim finishes it (the sweeper may have handed a
        # silent one back to the queue; the attempt it started writes the same file again).
        ours = Export.objects.filter(pk=export.pk, status=Export.Status.RUNNING, attempts=export.attempts)
        if not ours.update(
            status=export.status,
            sha256=sha256,
            size_bytes=size,
            rows_written=export.rows_written,
            manifest=manifest,
            finished_at=export.finished_at,
        ):
            logger.warning("export %s: finished by an attempt that no longer holds it", export.pk)
            return Export.objects.get(pk=export.pk)
        audit_record(
            actor=Actor.system("exports"),
            action=Action.EXPORT_COMPLETED,
            object_type="export",
            object_id=export.pk,
            data={"sha256": sha256, "rows": export.rows_written, "manifest_signature": manifest["signature"]},
        )
    return export


def export_fail(*, export_id, reason: str) -> None:
    with transaction.atomic():
        failed = Export.objects.filter(pk=export_id, status=Export.Status.RUNNING).update(
            status=Export.Status.FAILED, error=reason[:2000], finished_at=timezone.now()
        )
        if failed:
            audit_record(
                actor=Actor.system("exports"),
                action=Action.EXPORT_FAILED,
                object_type="export",
                object_id=export_id,
                data={"reason": reason[:200]},
            )


def export_record_download(*, export: Export, user) -> None:
    """Who took the record away, and when (accountability for the auditors themselves)."""
    audit_record(
        actor=Actor.user(user),
        action=Action.EXPORT_DOWNLOADED,
        object_type="export",
        object_id=export.pk,
        data={"sha256": export.sha256},
    )
