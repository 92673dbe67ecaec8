"""The decisions app's SQL that the ORM does not write for us: every statement here runs on each
recorded decision or bulk, where the ORM's query building cost more CPU than the database's
work. PostgreSQL-specific paths sit beside their portable twins; tests/decisions/test_storage.py
holds each pair equal.

- `registry_lookup`: registry rows cached per PostgreSQL connection (config.postgresql), dropped
  whenever the database announces a committed change to the registry's tables.
- `active_api_key_id`, `model_version_row`, `model_version_referral_rules`, `idempotency_stored`:
  one narrow query each on a unique index.
- `decisions_insert`: many decisions with COPY on PostgreSQL, bulk_create elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .models import ApiKey, Decision, DecisionModel, IdempotencyRecord, ModelVersion


# ---------------------------------------------------------------------------- registry
def registry_lookup[T](key: tuple, load: Callable[[], T | None]) -> T | None:
    """`load()`'s result, from the connection's registry cache when it holds `key`. Only found
    rows are cached: an unknown key or model is looked up again every time."""
    cache = connection.registry_cache() if hasattr(connection, "registry_cache") else None
    if cache is None:
        return load()
    if key in cache:
        return cache[key]
    value = load()
    if value is not None:
        # If a change was announced during load(), `cache` is no longer the connection's: the
        # row is dropped with it.
        cache[key] = value
    return value


def active_api_key_id(key_hash: str) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {ApiKey._meta.db_table} WHERE key_hash = %s AND revoked_at IS NULL",  # noqa: S608
            [key_hash],
        )
        row = cursor.fetchone()
    return row[0] if row else None


_VERSION_ROW = (
    f"SELECT v.id, v.created_at, v.status, v.referral_rules FROM {ModelVersion._meta.db_table} v "  # noqa: S608
    f"JOIN {DecisionModel._meta.db_table} m ON m.id = v.model_id WHERE m.name = %s AND "
)


def model_version_row(name: str, version: str | None) -> tuple | None:
    """(id, created_at, status, referral rules) of the named version, or of the model's default
    version: what of a version can change after it is registered."""
    with connection.cursor() as cursor:
        if version:
            cursor.execute(_VERSION_ROW + "v.version = %s", [name, version])
        else:
            cursor.execute(_VERSION_ROW + "v.id = m.default_version_id", [name])
        row = cursor.fetchone()
    if row is None:
        return None
    return (*row[:3], _json(row[3]))


def _json(value):
    return json.loads(value) if isinstance(value, str) else value  # SQLite's driver returns text


def model_version_referral_rules(version_id: int) -> dict | None:
    """A version's referral rules as committed (decisions.referral reads them through the registry
    cache), or None when there is no such version."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT referral_rules FROM {ModelVersion._meta.db_table} WHERE id = %s",  # noqa: S608
            [version_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return _json(row[0])


def idempotency_stored(api_key_id: int, key: str) -> tuple[str, int, dict, datetime] | None:
    """(request_sha256, status_code, response, created_at) of a key's first request, if there
    was one; the caller judges its age, so that the common case stays one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT request_sha256, status_code, response, created_at FROM {IdempotencyRecord._meta.db_table} "  # noqa: S608
            "WHERE api_key_id = %s AND key = %s",
            [api_key_id, key],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    request_sha, status_code, response, created_at = row
    if isinstance(created_at, str):  # SQLite's driver returns the text it stored
        created_at = parse_datetime(created_at)
    if timezone.is_naive(created_at):  # SQLite keeps UTC without its offset
        created_at = timezone.make_aware(created_at, UTC)
    return (
        request_sha,
        status_code,
        json.loads(response) if isinstance(response, str) else response,
        created_at,
    )


# ---------------------------------------------------------------------------- writing decisions
def decisions_insert(decisions: list[Decision]) -> None:
    """Insert new decisions in the caller's transaction."""
    if connection.vendor == "postgresql":
        decisions_insert_postgresql(decisions)
    else:
        decisions_insert_portable(decisions)


def decisions_insert_portable(decisions: list[Decision]) -> None:
    Decision.objects.bulk_create(decisions)


def decisions_insert_postgresql(decisions: list[Decision]) -> None:
    """COPY, from the values bulk_create would send: its one array per column cost the web
    process about a third of a 1,000-decision request's CPU, and psycopg writes COPY rows in C.
    Every id is made in Python, so nothing is read back; the instances are marked saved, as
    bulk_create marks them."""
    fields = Decision._meta.concrete_fields
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    table = quote(Decision._meta.db_table)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for decision in decisions:
            copy.write_row(
                [field.get_db_prep_save(getattr(decision, field.attname), connection) for field in fields]
            )
    for decision in decisions:
        decision._state.adding = False
        decision._state.db = connection.alias
