"""`Idempotency-Key` for POSTs: a retry gets the first response; the same key with a different
body is refused. The stored response holds the subject's access link, so it is sealed with a
key derived from the server secret and the client's idempotency key: the database alone can
not reveal access tokens.

A record answers retries for IDEMPOTENCY_REPLAY_HOURS. After that it is treated as absent (the
key starts afresh) and `idempotency_prune`, run periodically, deletes it with the features and
link it holds."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone
from rest_framework.response import Response

from config.errors import ApplicationError

from . import storage
from .models import ApiKey, IdempotencyRecord

MAX_KEY_LENGTH = 255


def _fernet(api_key: ApiKey, key: str) -> Fernet:
    material = f"{settings.SECRET_KEY}:idempotency:{api_key.pk}:{key}".encode()
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(material).digest()))


class Claim:
    """A keyed request's right to be answered once.

    The handler builds its response first, then hands `record(status, body)` (the key's record,
    not yet saved) to the service that writes its work, which commits the record with that work.
    A concurrent request that claimed the key first makes the record's INSERT raise
    IntegrityError, and everything the handler wrote is rolled back with it.
    """

    def __init__(self, api_key: ApiKey, key: str, request_sha: str):
        self.api_key, self.key, self.request_sha = api_key, key, request_sha
        self.recorded = False

    def record(self, status: int, body: dict) -> IdempotencyRecord:
        """The key's record, holding `body` sealed; for the writing service to save."""
        sealed = _fernet(self.api_key, self.key).encrypt(json.dumps(body).encode()).decode()
        self.recorded = True
        return IdempotencyRecord(
            api_key_id=self.api_key.pk,
            key=self.key,
            request_sha256=self.request_sha,
            status_code=status,
            response={"sealed": sealed},
            created_at=timezone.now(),
        )


def replay_since(now: datetime) -> datetime:
    """The oldest record that still answers a retry."""
    return now - timedelta(hours=settings.IDEMPOTENCY_REPLAY_HOURS)


def idempotency_prune(*, now: datetime | None = None, batch_size: int = 5000) -> int:
    """Delete the records past their replay window, in batches; return how many."""
    since = replay_since(now or timezone.now())
    deleted = 0
    while True:
        batch = list(
            IdempotencyRecord.objects.filter(created_at__lt=since).values_list("pk", flat=True)[:batch_size]
        )
        if not batch:
            return deleted
        deleted += IdempotencyRecord.objects.filter(pk__in=batch, created_at__lt=since).delete()[0]


def _stored(api_key: ApiKey, key: str) -> tuple | None:
    """The key's record if it may still be replayed. One past its window, not pruned yet, is
    deleted here, so that the key starts afresh exactly as it would after the pruning."""
    existing = storage.idempotency_stored(api_key.pk, key)
    if existing is None:
        return None
    since = replay_since(timezone.now())
    if existing[3] >= since:
        return existing
    # Only if still expired: a concurrent request may have just written a fresh one.
    IdempotencyRecord.objects.filter(api_key_id=api_key.pk, key=key, created_at__lt=since).delete()
    return None


def _replay(stored: tuple, api_key: ApiKey, key: str, request_sha: str) -> Response:
    stored_sha, status_code, stored_response, _created_at = stored
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
    """Run `handler` at most once per Idempotency-Key. It writes and returns (status, body);
    given a Claim, it must have its writes commit `claim.record(status, body)` with them."""
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
