"""The text of an export: decisions, audit events and the Art. 30 record, as JSON Lines or CSV.

A decision's JSON line is declared once, field by field (DECISION_LINE, EXPLANATION_OBJECT,
REVIEW_OBJECT, HUMAN_REVIEW_OBJECT). This module writes it from rows read through the ORM; on PostgreSQL
oversight.storage has the database build the same line from the same declaration and stream it
with COPY. Both writers put out the same bytes (a test holds them equal): strings JSON-escaped
with non-ASCII kept, times as UTC ISO 8601 with microseconds, floats in their shortest
round-trip form, JSON columns spliced as stored.

Rows are read with server-side cursors in chunks, so memory does not grow with the export.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import FilteredRelation, OuterRef, Q, Subquery, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from decisions.auth import CASEWORKER
from decisions.models import Decision
from reviews.models import CaseAction, ReviewRequest

from .export_filters import ExportFilters, decisions_selected, events_selected
from .record_of_processing import record_of_processing

CHUNK_ROWS = 2000
FLUSH_BYTES = 1 << 16
_encode_str = json.encoder.encode_basestring  # the C encoder: a JSON string literal with quotes


# ---------------------------------------------------------------------------- the line, declared
@dataclass(frozen=True)
class Field:
    """One member of a JSON object in an export line."""

    key: str
    kind: str  # "id", "text", "number", "time" or "json" (JSON text spliced as stored)
    column: str  # where PostgreSQL's COPY query reads it (tables d, m, v, e, r, h, a: oversight.storage)
    orm: str = ""  # where the ORM reads it (a values_list() name), for the decision's own members
    empty: str = "null"  # the JSON written for NULL (a json column's empty value)


DECISION_LINE = (
    Field("id", "id", "d.id", "id"),
    Field("model", "text", "m.name", "model_version__model__name"),
    Field("model_version", "text", "v.version", "model_version__version"),
    Field("kind", "text", "d.kind", "kind"),
    # A human decision names the decision it replaced (the one in force when it was reviewed).
    Field("supersedes", "id", "d.supersedes_id", "supersedes_id"),
    Field("subject_ref", "text", "d.subject_ref", "subject_ref"),
    Field("reference", "text", "d.reference", "reference"),
    Field("decided_at", "time", "d.decided_at", "decided_at"),
    Field("score", "number", "d.score", "score"),
    Field("outcome", "text", "d.outcome", "outcome"),
    Field("favourable", "number", "d.favourable", "favourable"),
    # Keyed (decisions.commitments): its key is never exported, so the file cannot test guesses.
    Field("features_commitment", "text", "d.features_commitment", "features_commitment"),
    Field("personal_data_erased_at", "time", "d.personal_data_erased_at", "personal_data_erased_at"),
    # Restricted on the person's request (oversight.erasure): exports are auditors' only, and flag it.
    Field("restricted_at", "time", "d.restricted_at", "restricted_at"),
    Field("features", "json", "d.features", "features_json"),
)
# The decision's current explanation ("explanation": null without one).
EXPLANATION_OBJECT = (
    Field("status", "text", "e.status", "current__status"),
    Field("method", "text", "e.method", "current__method"),
    Field("base_value", "number", "e.base_value", "current__base_value"),
    Field("additivity_error", "number", "e.additivity_error", "current__additivity_error"),
    Field("model_sha256", "text", "e.model_sha256", "current__model_sha256"),
    Field("finished_at", "time", "e.finished_at", "current__finished_at"),
    Field("contributions", "json", "e.contributions", "contributions_json", empty="[]"),
)
# Its review requests, oldest first ("reviews": [] without any). Never what the subject wrote.
REVIEW_OBJECT = (
    Field("reference", "text", "r.reference", "reference"),
    Field("kind", "text", "r.kind", "kind"),
    Field("status", "text", "r.status", "status"),
    Field("received_at", "time", "r.received_at", "received_at"),
    Field("due_at", "time", "r.due_at", "due_at"),
    Field("extension_months", "number", "r.extension_months", "extension_months"),
    Field("closed_at", "time", "r.closed_at", "closed_at"),
    Field("human_decision", "id", "r.human_decision_id", "human_decision_id"),
)
# A human decision's review ("human_review": null for the model's own decisions): the request it
# closed, the reviewer's role (never their name) and their rationale, the controller's record.
# Reviews closed before the role was recorded were a caseworker's: no one else could decide one.
HUMAN_REVIEW_OBJECT = (
    Field("request", "text", "h.reference", "reference"),
    Field("reviewer_role", "text", "a.data ->> 'role'", "role", empty=f'"{CASEWORKER}"'),
    Field("rationale", "text", "h.rationale", "rationale"),
)
_KIND = next(i for i, f in enumerate(DECISION_LINE) if f.key == "kind")
HUMAN = Decision.Kind.HUMAN.value
DECISION_CSV_HEADER = [
    *(f.key for f in DECISION_LINE),
    *(f"explanation_{f.key}" for f in EXPLANATION_OBJECT),
    "reviews",
    *(f"human_review_{f.key}" for f in HUMAN_REVIEW_OBJECT),
]


# ---------------------------------------------------------------------------- writing JSON
def iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat(timespec="microseconds")


def json_value(field: Field, value: Any) -> str:
    if value is None or (field.kind == "json" and value == ""):
        return field.empty
    if field.kind == "id":
        return f'"{value}"'
    if field.kind == "text":
        return _encode_str(value)
    if field.kind == "time":
        return f'"{iso(value)}"'
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def json_object(fields: tuple[Field, ...], values: Iterable[Any]) -> str:
    return "{" + ",".join(f'"{f.key}":{json_value(f, v)}' for f, v in zip(fields, values, strict=True)) + "}"


def reviews_json(reviews: list[tuple] | None) -> str:
    return "[" + ",".join(json_object(REVIEW_OBJECT, r) for r in reviews) + "]" if reviews else "[]"


def decision_line(row: tuple, reviews: list[tuple] | None, human_review: tuple | None) -> str:
    """One line from a `_decision_rows` row, the decision's reviews and, for a human decision,
    the review that made it."""
    own = json_object(DECISION_LINE, row[: len(DECISION_LINE)])
    explanation_values = row[len(DECISION_LINE) :]
    explanation = (
        "null" if explanation_values[0] is None else json_object(EXPLANATION_OBJECT, explanation_values)
    )
    made_by = "null" if human_review is None else json_object(HUMAN_REVIEW_OBJECT, human_review)
    return (
        f'{own[:-1]},"explanation":{explanation},"reviews":{reviews_json(reviews)},'
        f'"human_review":{made_by}}}\n'
    )


# ---------------------------------------------------------------------------- decisions
def _decision_rows(filters: ExportFilters, until: datetime | None) -> Iterator[tuple]:
    qs = (
        decisions_selected(filters, until=until)
        .annotate(
            current=FilteredRelation("explanations", condition=Q(explanations__is_current=True)),
            features_json=Cast("features", TextField()),
            contributions_json=Cast("current__contributions", TextField()),
        )
        .order_by("decided_at", "id")
        .values_list(*(f.orm for f in DECISION_LINE), *(f.orm for f in EXPLANATION_OBJECT))
    )
    return qs.iterator(chunk_size=CHUNK_ROWS)


def _reviews_by_decision(ids: list) -> dict:
    """Review requests of one chunk of decisions (one query per chunk keeps memory flat)."""
    out: dict = {}
    rows = (
        ReviewRequest.objects.filter(decision_id__in=ids)
        .order_by("received_at", "id")
        .values_list("decision_id", *(f.orm for f in REVIEW_OBJECT))
    )
    for decision_id, *values in rows:
        out.setdefault(decision_id, []).append(values)
    return out


def _human_reviews_by_decision(chunk: tuple[tuple, ...]) -> dict:
    """The review behind each human decision of one chunk: (request, reviewer role, rationale)."""
    human = [row[0] for row in chunk if row[_KIND] == HUMAN]
    if not human:
        return {}
    closing = CaseAction.objects.filter(request=OuterRef("pk"), kind=CaseAction.Kind.OVERTURNED).order_by(
        "-created_at", "-id"
    )
    rows = (
        ReviewRequest.objects.filter(human_decision_id__in=human)
        .annotate(role=Subquery(closing.annotate(role=KeyTextTransform("role", "data")).values("role")[:1]))
        .order_by("-id")  # the first request wins, as the COPY query's ORDER BY h.id LIMIT 1
        .values_list("human_decision_id", *(f.orm for f in HUMAN_REVIEW_OBJECT))
    )
    return {decision_id: tuple(values) for decision_id, *values in rows}


def _chunks(rows: Iterable[tuple]) -> Iterator[tuple[tuple, ...]]:
    return itertools.batched(rows, CHUNK_ROWS)  # read at call time: tests make chunks small


# A spreadsheet opening the file runs a cell that starts with one of these as a formula
# (=HYPERLINK(...) sends a click, with the cells it names, anywhere): OWASP's CSV injection.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_row(values: Iterable[Any]) -> list:
    """A CSV record whose text cells cannot start a formula: those that could get a leading `'`.
    Only text: the numbers are ours (a score of -0.5 stays a number), while any text may come
    from a person or a controller's system (a statement, a reference, a class label "-1")."""
    return ["'" + v if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v for v in values]


def decision_lines_jsonl_portable(
    filters: ExportFilters, until: datetime | None, counts: dict
) -> Iterator[str]:
    """Any database: rows through the ORM, lines built here."""
    status = len(DECISION_LINE)  # the explanation's first member: None without one
    for chunk in _chunks(_decision_rows(filters, until)):
        reviews = _reviews_by_decision([row[0] for row in chunk])
        made_by = _human_reviews_by_decision(chunk)
        explained = sum(1 for row in chunk if row[status] is not None)
        if explained:
            counts["explanations"] = counts.get("explanations", 0) + explained
        counts["rows"] = counts.get("rows", 0) + len(chunk)
        yield "".join(decision_line(row, reviews.get(row[0]), made_by.get(row[0])) for row in chunk)


def decision_lines_csv(filters: ExportFilters, until: datetime | None, counts: dict) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(DECISION_CSV_HEADER)
    fields = (*DECISION_LINE, *EXPLANATION_OBJECT)
    times = [i for i, f in enumerate(fields) if f.kind == "time"]
    status = len(DECISION_LINE)
    no_review = (None,) * len(HUMAN_REVIEW_OBJECT)
    for chunk in _chunks(_decision_rows(filters, until)):
        reviews = _reviews_by_decision([row[0] for row in chunk])
        made_by = _human_reviews_by_decision(chunk)
        for row in chunk:
            row = list(row)
            if row[status] is not None:
                counts["explanations"] = counts.get("explanations", 0) + 1
            for i in times:
                row[i] = iso(row[i])
            human_review = made_by.get(row[0])
            if human_review is not None:  # NULL as the JSON line writes it (a field's `empty`)
                human_review = [
                    json.loads(f.empty) if v is None else v
                    for f, v in zip(HUMAN_REVIEW_OBJECT, human_review, strict=True)
                ]
            writer.writerow(csv_row([*row, reviews_json(reviews.get(row[0])), *(human_review or no_review)]))
        counts["rows"] = counts.get("rows", 0) + len(chunk)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


# ---------------------------------------------------------------------------- audit events
EVENT_LINE = (
    Field("id", "number", "", "id"),
    Field("created_at", "time", "", "created_at"),
    Field("actor_type", "text", "", "actor_type"),
    Field("actor_id", "text", "", "actor_id"),
    Field("action", "text", "", "action"),
    Field("object_type", "text", "", "object_type"),
    Field("object_id", "text", "", "object_id"),
    Field("data", "json", "", "data_json"),
    Field("prev_hash", "text", "", "prev_hash"),
    Field("hash", "text", "", "hash"),
)


def _event_rows(filters: ExportFilters, until_id: int | None) -> Iterator[tuple]:
    qs = (
        events_selected(filters, until_id=until_id)
        .annotate(data_json=Cast("data", TextField()))
        .order_by("id")
        .values_list(*(f.orm for f in EVENT_LINE))
    )
    return qs.iterator(chunk_size=CHUNK_ROWS)


def event_lines_jsonl(filters: ExportFilters, until_id: int | None, counts: dict) -> Iterator[str]:
    for chunk in _chunks(_event_rows(filters, until_id)):
        yield "".join(json_object(EVENT_LINE, row) + "\n" for row in chunk)
        counts["rows"] = counts.get("rows", 0) + len(chunk)


def event_lines_csv(filters: ExportFilters, until_id: int | None, counts: dict) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([f.key for f in EVENT_LINE])
    for chunk in _chunks(_event_rows(filters, until_id)):
        for row in chunk:
            writer.writerow(csv_row([row[0], iso(row[1]), *row[2:]]))
        counts["rows"] = counts.get("rows", 0) + len(chunk)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


# ---------------------------------------------------------------------------- Art. 30 record
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
            csv_row(
                v if isinstance(v, str | int) else json.dumps(v, ensure_ascii=False) for v in entry.values()
            )
        )
        counts["rows"] = counts.get("rows", 0) + 1
    if columns is None:
        writer.writerow(["processing"])
    yield buffer.getvalue()


# ---------------------------------------------------------------------------- blocks
def blocks(pieces: Iterable[bytes]) -> Iterator[tuple[bytes, int]]:
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
