"""A data subject's access to their decision, with no account: the link sent with the decision.

One module for all of it: issuing the token (192 random bits, stored only as its sha256, valid
SUBJECT_ACCESS_DAYS), building the link, looking a token up, revoking and re-issuing it, counting
wrong tokens per client address, and authenticating the API's `X-Access-Token` header.

The API answers wrong, expired and revoked tokens alike (404). The pages tell a link that ended
(expired or revoked) from an unknown one, so the person learns whom to ask for a new link: only
the holder of a token that once worked learns that it did. Failed attempts are counted per
client address in Django's cache and refused past a limit. With the default LocMemCache that
count is per process: several web processes each allow the limit; a shared cache (Redis,
memcached) in CACHES makes it global.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from audit.models import Action
from audit.services import Actor, audit_record

from .credentials import new_access_token, secret_hash
from .models import Decision

TOKEN_HEADER = "X-Access-Token"  # noqa: S105 - a header name, not a secret
BAD_TOKEN_LIMIT = getattr(settings, "SUBJECT_BAD_TOKEN_LIMIT", 20)
BAD_TOKEN_WINDOW_SECONDS = getattr(settings, "SUBJECT_BAD_TOKEN_WINDOW_SECONDS", 600)
MAX_TOKEN_LENGTH = 128


# ---------------------------------------------------------------------------- issue, link
@dataclass(frozen=True)
class AccessGrant:
    """A new decision's access: the token goes to the subject once, its hash onto the decision."""

    token: str
    token_hash: str
    expires_at: datetime


def access_grant(*, now: datetime) -> AccessGrant:
    token = new_access_token()
    return AccessGrant(token, secret_hash(token), now + timedelta(days=settings.SUBJECT_ACCESS_DAYS))


def access_url(token: str) -> str:
    """The link in the decision notice (the `subject-decision` page)."""
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/access/{token}/"


# ---------------------------------------------------------------------------- look up, revoke, re-issue
OPEN, EXPIRED, REVOKED, UNKNOWN = "open", "expired", "revoked", "unknown"


def access_lookup(token: str) -> tuple[str, Decision | None]:
    """What a token opens: (OPEN, decision); (EXPIRED or REVOKED, decision) for a link that
    worked once; (UNKNOWN, None) for anything else, a replaced (re-issued) token included."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return UNKNOWN, None
    decision = (
        Decision.objects.select_related("model_version__model")
        .filter(access_token_hash=secret_hash(token))
        .first()
    )
    if decision is None:
        return UNKNOWN, None
    if decision.access_revoked_at is not None:
        return REVOKED, decision
    if decision.access_expires_at <= timezone.now():
        return EXPIRED, decision
    return OPEN, decision


def decision_for_token(token: str) -> Decision | None:
    """The decision a subject's access token opens, or None when wrong, expired or revoked."""
    state, decision = access_lookup(token)
    return decision if state == OPEN else None


def subject_access_revoke(*, decision: Decision, actor: Actor) -> Decision:
    """Withdraw the subject's link (and the status links of its requests, which check it)."""
    with transaction.atomic():
        now = timezone.now()
        changed = (
            Decision.objects.filter(Q(pk=decision.pk) | Q(supersedes=decision.pk))
            .filter(access_revoked_at__isnull=True)
            .update(access_revoked_at=now)
        )
        decision.refresh_from_db(fields=["access_revoked_at"])
        if changed:
            audit_record(
                actor=actor,
                action=Action.SUBJECT_ACCESS_REVOKED,
                object_type="decision",
                object_id=decision.pk,
            )
    return decision


@dataclass(frozen=True)
class ReissuedAccess:
    """The new link, in clear only here: it is handed to the subject once and never stored."""

    url: str
    expires_at: datetime


def subject_access_reissue(*, decision: Decision, actor: Actor) -> ReissuedAccess:
    """A new link for a lost, expired or revoked one. The new token's hash replaces the old one, so
    the old link stops working at once; the expiry starts again and a revocation is lifted (on the
    decisions that replaced this one too, as `subject_access_revoke` set it there)."""
    with transaction.atomic():
        now = timezone.now()
        grant = access_grant(now=now)
        # The lock orders a re-issue against a concurrent revoke or re-issue of the same link.
        before = Decision.objects.select_for_update().get(pk=decision.pk)
        was = REVOKED if before.access_revoked_at else EXPIRED if before.access_expires_at <= now else OPEN
        Decision.objects.filter(pk=decision.pk).update(
            access_token_hash=grant.token_hash, access_expires_at=grant.expires_at, access_revoked_at=None
        )
        Decision.objects.filter(supersedes=decision.pk).update(
            access_expires_at=grant.expires_at, access_revoked_at=None
        )
        decision.refresh_from_db(fields=["access_token_hash", "access_expires_at", "access_revoked_at"])
        # Neither the token nor its hash: the event says only that the link changed, and when
        # the new one ends.
        audit_record(
            actor=actor,
            action=Action.SUBJECT_ACCESS_REISSUED,
            object_type="decision",
            object_id=decision.pk,
            data={"previous": was, "expires_at": grant.expires_at.isoformat()},
        )
    return ReissuedAccess(access_url(grant.token), grant.expires_at)


# ---------------------------------------------------------------------------- throttle
def client_address(request) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client says unless a trusted proxy sets it.
    return request.META.get("REMOTE_ADDR", "unknown")


def _throttle_key(address: str) -> str:
    return f"subject-bad-token:{address}"


def token_attempts_blocked(address: str) -> bool:
    return (cache.get(_throttle_key(address)) or 0) >= BAD_TOKEN_LIMIT


def token_attempt_failed(address: str) -> None:
    key = _throttle_key(address)
    # add() starts the window only once; incr() keeps its expiry.
    if not cache.add(key, 1, timeout=BAD_TOKEN_WINDOW_SECONDS):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=BAD_TOKEN_WINDOW_SECONDS)


# ---------------------------------------------------------------------------- authenticate (API)
class SubjectPrincipal:
    """The bearer of one decision's access token: not a user, scoped to that decision."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, decision: Decision):
        self.decision = decision
        self.pk = None

    def __str__(self) -> str:
        return f"subject of {self.decision.pk}"


class SubjectTokenAuthentication(authentication.BaseAuthentication):
    """`X-Access-Token: <token>`; wrong, expired and revoked tokens are counted and throttled
    exactly as on the pages (same cache key per client address)."""

    def authenticate(self, request):
        token = request.META.get("HTTP_X_ACCESS_TOKEN", "").strip()
        if not token:
            return None
        address = client_address(request)
        if token_attempts_blocked(address):
            raise exceptions.Throttled(detail="too many invalid access tokens; wait and try again")
        decision = decision_for_token(token)
        if decision is None:
            token_attempt_failed(address)
            # 404 rather than 401: a wrong token and a withdrawn decision look the same.
            raise exceptions.NotFound("no decision for this access token")
        return SubjectPrincipal(decision), token

    def authenticate_header(self, request):
        return TOKEN_HEADER


class IsSubject(permissions.BasePermission):
    message = f"send the access token from your decision notice in the {TOKEN_HEADER} header"
    openapi_scheme = "SubjectAccessToken"

    def has_permission(self, request, view):
        return isinstance(request.user, SubjectPrincipal)
