"""API keys for integrating systems, and the roles every view declares."""

from __future__ import annotations

import hashlib
import secrets

from rest_framework import authentication, exceptions, permissions

from .models import ApiKey

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
        # A raw query on the unique column: every API request pays for this lookup, and the
        # ORM's query building cost twice the database's answer (bench/RESULTS.md, stop 8).
        table = ApiKey._meta.db_table
        found = ApiKey.objects.raw(f"SELECT * FROM {table} WHERE key_hash = %s", [hash_key(raw)])  # noqa: S608
        key = next(iter(found), None)
        if key is None or key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("invalid or revoked API key")
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

    def has_permission(self, request, view):
        return isinstance(request.auth, ApiKey) and request.auth.revoked_at is None


class IsCaseworker(permissions.BasePermission):
    message = "caseworkers only"

    def has_permission(self, request, view):
        return has_role(request.user, CASEWORKER)


class IsAuditor(permissions.BasePermission):
    message = "auditors only"

    def has_permission(self, request, view):
        return has_role(request.user, AUDITOR)


class ReadOnly(permissions.BasePermission):
    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS
