"""Who may do what: API keys for integrating systems, staff roles, and the permission every API
view and page declares."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.views.decorators.cache import never_cache
from rest_framework import authentication, exceptions, permissions

from audit.services import Actor

from . import storage
from .credentials import secret_hash
from .models import ApiKey

CASEWORKER = "caseworker"
AUDITOR = "auditor"
ROLES = (CASEWORKER, AUDITOR)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.startswith(self.keyword + " "):
            return None
        raw = header[len(self.keyword) + 1 :].strip()
        if not raw:
            raise exceptions.AuthenticationFailed("empty API key")
        key_hash = secret_hash(raw)
        # Every API request authenticates: the key's id is cached until the keys' table changes.
        key_id = storage.registry_lookup(("api_key", key_hash), lambda: storage.active_api_key_id(key_hash))
        if key_id is None:
            raise exceptions.AuthenticationFailed("invalid or revoked API key")
        # An active key: its other fields load only if something reads them.
        key = ApiKey.from_db(connection.alias, ["id", "revoked_at"], [key_id, None])
        return key, key

    def authenticate_header(self, request):
        return self.keyword


def actor_of(request) -> Actor:
    """Who is acting, for the audit log: the API key, or the signed-in person."""
    if isinstance(request.auth, ApiKey):
        return Actor.api_key(request.auth)
    return Actor.user(request.user)


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


def role_required(allowed: Callable[[object], bool], refusal: str):
    """A page for signed-in staff whom `allowed(user)` accepts: anonymous visitors are sent to sign
    in, anyone else gets 403 with `refusal`. Never cached: the pages show personal data."""

    def decorator(view):
        @wraps(view)
        @never_cache
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not allowed(request.user):
                raise PermissionDenied(refusal)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
