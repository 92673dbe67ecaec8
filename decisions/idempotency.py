"""`Idempotency-Key` for POSTs: a retry gets the first response; the same key with a different
body is refused. The stored response holds the subject's access link, so it is sealed with a
key derived from the server secret and the client's idempotency key: the database alone can
not reveal access tokens."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import IntegrityError, connection
from django.utils import timezone
from rest_framework.response import Response

from config.errors import ApplicationError

from .models import ApiKey, IdempotencyRecord

MAX_KEY_LENGTH = 255


def _fernet(api_key: ApiKey, key: str) -> Fernet:
    material = f"{settings.SECRET_KEY}:idempotency:{api_key.pk}:{key}".encode()
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(material).digest()))


def _stored(api_key: ApiKey, key: str) -> tuple[str, int, dict] | None:
    """(request_sha256, status_code, response) of the key's first request, if there was one.

    One plain query on the unique (api_key, key) index: every keyed request pays for it, and
    the ORM's `.first()` of the same cost about three times the CPU (bench/RESULTS.md, stop 11).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT request_sha256, status_code, response FROM {IdempotencyRecord._meta.db_table} "  # noqa: S608
            "WHERE api_key_id = %s AND key = %s",
            [api_key.pk, key],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    request_sha, status_code, response = row
    return request_sha, status_code, json.loads(response) if isinstance(response, str) else response


class Claim:
    """A keyed request's right to be answered once.

    The handler records its response with `record(status, body)`, which returns the key's
    INSERT (sql, params) for the handler to commit with its own writes: as a part of their one
    statement where it can (`decisions.services.decision_write`), else in their transaction. A
    concurrent request that claimed the key first makes that INSERT raise IntegrityError, and
    everything the handler wrote is rolled back with it.

    A keyed decision used to be wrapped in a transaction of its own (BEGIN, the decision, the
    record's INSERT, COMMIT): three more round trips than an unkeyed one, with the audit chain's
    lock held across two of them (bench/RESULTS.md, stops 11 and 12).
    """

    def __init__(self, api_key: ApiKey, key: str, request_sha: str):
        self.api_key, self.key, self.request_sha = api_key, key, request_sha
        self.recorded = False

    def record(self, status: int, body: dict) -> tuple[str, list]:
        """The INSERT of the key's record with `body` sealed (RETURNING one row)."""
        sealed = _fernet(self.api_key, self.key).encrypt(json.dumps(body).encode()).decode()
        as_json = "%s::jsonb" if connection.vendor == "postgresql" else "%s"  # SQLite keeps JSON as text
        self.recorded = True
        return (
            f"INSERT INTO {IdempotencyRecord._meta.db_table} "  # noqa: S608
            "(api_key_id, key, request_sha256, status_code, response, created_at) "
            f"VALUES (%s, %s, %s, %s, {as_json}, %s) RETURNING 1",
            [
                self.api_key.pk,
                self.key,
                self.request_sha,
                status,
                json.dumps({"sealed": sealed}),
                timezone.now(),
            ],
        )


def _replay(stored: tuple[str, int, dict], api_key: ApiKey, key: str, request_sha: str) -> Response:
    stored_sha, status_code, stored_response = stored
    if stored_sha != request_sha:
        raise ApplicationError(
            "Idempotency-Key reused with a different request body",
            fields={"Idempotency-Key": "already used for another request; use a new key"},
            status_code=422,
        )
    try:
        body = json.loads(_fernet(api_key, key).decrypt(stored_response["sealed"].encode()))
    except (InvalidToken, KeyError):
        raise ApplicationError("stored response cannot be replayed", status_code=409) from None
    response = Response(body, status=status_code)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(request, handler: Callable[[Claim | None], tuple[int, dict]]) -> Response:
    """Run `handler` at most once per Idempotency-Key. It records and returns (status, body);
    given a Claim, it must commit `claim.record(status, body)` with its writes."""
    key = request.headers.get("Idempotency-Key")
    api_key = request.auth
    if key is None or not isinstance(api_key, ApiKey):
        status, body = handler(None)
        return Response(body, status=status)
    if not key.strip():
        # A client whose key generator failed would otherwise lose the protection unawares.
        raise ApplicationError(
            "Idempotency-Key is empty", fields={"Idempotency-Key": "a non-empty key, or no header at all"}
        )
    if len(key) > MAX_KEY_LENGTH:
        raise ApplicationError(
            "Idempotency-Key too long", fields={"Idempotency-Key": f"at most {MAX_KEY_LENGTH} characters"}
        )
    request_sha = hashlib.sha256(request.body).hexdigest()
    existing = _stored(api_key, key)
    if existing is not None:
        return _replay(existing, api_key, key, request_sha)
    claim = Claim(api_key, key, request_sha)
    try:
        status, body = handler(claim)
    except IntegrityError:
        # A concurrent request with the same key won the race; our work was rolled back.
        existing = _stored(api_key, key)
        if existing is None:
            raise
        return _replay(existing, api_key, key, request_sha)
    if not claim.recorded:
        raise RuntimeError("an idempotent handler returned without recording its Idempotency-Key")
    return Response(body, status=status)
