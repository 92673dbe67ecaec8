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
from django.db import IntegrityError, transaction
from rest_framework.response import Response

from config.errors import ApplicationError

from .models import ApiKey, IdempotencyRecord

MAX_KEY_LENGTH = 255


def _fernet(api_key: ApiKey, key: str) -> Fernet:
    material = f"{settings.SECRET_KEY}:idempotency:{api_key.pk}:{key}".encode()
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(material).digest()))


def _replay(record: IdempotencyRecord, api_key: ApiKey, key: str, request_sha: str) -> Response:
    if record.request_sha256 != request_sha:
        raise ApplicationError(
            "Idempotency-Key reused with a different request body",
            fields={"Idempotency-Key": "already used for another request; use a new key"},
            status_code=422,
        )
    try:
        body = json.loads(_fernet(api_key, key).decrypt(record.response["sealed"].encode()))
    except (InvalidToken, KeyError):
        raise ApplicationError("stored response cannot be replayed", status_code=409) from None
    response = Response(body, status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(request, handler: Callable[[], tuple[int, dict]]) -> Response:
    """Run `handler` (which records and returns (status, body)) at most once per key."""
    key = request.headers.get("Idempotency-Key")
    api_key = request.auth
    if key is None or not isinstance(api_key, ApiKey):
        status, body = handler()
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
    existing = IdempotencyRecord.objects.filter(api_key=api_key, key=key).first()
    if existing is not None:
        return _replay(existing, api_key, key, request_sha)
    try:
        with transaction.atomic():
            status, body = handler()
            sealed = _fernet(api_key, key).encrypt(json.dumps(body).encode()).decode()
            IdempotencyRecord.objects.create(
                api_key=api_key,
                key=key,
                request_sha256=request_sha,
                status_code=status,
                response={"sealed": sealed},
            )
    except IntegrityError:
        # A concurrent request with the same key won the race; our work was rolled back.
        existing = IdempotencyRecord.objects.filter(api_key=api_key, key=key).first()
        if existing is None:
            raise
        return _replay(existing, api_key, key, request_sha)
    return Response(body, status=status)
