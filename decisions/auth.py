"""API keys for integrating systems, and the roles every view declares."""

from __future__ import annotations

import hashlib
import secrets

from django.db import connection
from rest_framework import authentication, exceptions, permissions

from .models import ApiKey
from .registry import registry_lookup

KEY_PREFIX_LENGTH = 8
CASEWORKER = "caseworker"
AUDITOR = "auditor"
ROLES = (CASEWORKER, AUDITOR)


def hash_key(raw: str) -> str:
    # The key carries 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(raw.encode()).hexdigest()


def generate_key() -> tuple[str, str]:
    """Return (raw key, prefix). The raw key is shown once and never stored."""
    prefix = secrets.token_hex(KEY_PREFIX_LENGTH // 2)
    return f"rk_{prefix}_{secrets.token_urlsafe(32)}", prefix


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.startswith(self.keyword + " "):
            return None
        raw = header[len(self.keyword) + 1 :].strip()
        if not raw:
            raise exceptions.AuthenticationFailed("empty API key")
        key_hash = hash_key(raw)

        def active_key_id() -> int | None:
            # One plain query on the unique column: the ORM's version of it cost 0.7 ms of CPU
            # against 0.25 ms (bench/RESULTS.md, stop 8).
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT id FROM {ApiKey._meta.db_table} WHERE key_hash = %s AND revoked_at IS NULL",  # noqa: S608
                    [key_hash],
                )
                row = cursor.fetchone()
            return row[0] if row else None

        # Every API request authenticates: the key's id is cached until the keys' table changes.
        key_id = registry_lookup(("api_key", key_hash), active_key_id)
        if key_id is None:
            raise exceptions.AuthenticationFailed("invalid or revoked API key")
        # An active key: its other fields load only if something reads them.
        key = ApiKey.from_db(connection.alias, ["id", "revoked_at"], [key_id, None])
        return key, key

    def authenticate_header(self, request):
        return self.keyword


def has_role(user, role: str) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and not isinstance(user, ApiKey)
        and user.is_active
        and user.groups.filter(name=role).exists()
    )


class IsIntegration(permissions.BasePermission):
    """The controller's decision service, authenticated by an API key."""

    message = "an API key is required (Authorization: Api-Key <key>)"
    # The OpenAPI security scheme that satisfies this permission (config/openapi.py).
    openapi_scheme = "ApiKeyAuth"

    def has_permission(self, request, view):
        return isinstance(request.auth, ApiKey) and request.auth.revoked_at is None


class IsCaseworker(permissions.BasePermission):
    message = "caseworkers only"
    openapi_scheme = "cookieAuth"  # a signed-in person's session

    def has_permission(self, request, view):
        return has_role(request.user, CASEWORKER)


class IsAuditor(permissions.BasePermission):
    message = "auditors only"
    openapi_scheme = "cookieAuth"

    def has_permission(self, request, view):
        return has_role(request.user, AUDITOR)


class ReadOnly(permissions.BasePermission):
    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS
