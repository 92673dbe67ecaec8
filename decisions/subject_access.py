"""A data subject's access to their decision, with no account: the link sent with the decision.

One module for all of it: issuing the token (192 random bits, stored only as its sha256, valid
SUBJECT_ACCESS_DAYS), building the link, looking a token up, revoking and re-issuing it,
exchanging it for a session bound to its decision, counting unknown tokens per client address,
and authenticating the API's `X-Access-Token` header.

The API answers wrong, expired and revoked tokens alike (404). The pages tell a link that ended
(expired or revoked) from an unknown one, so the person learns whom to ask for a new link: only
the holder of a token that once worked learns that it did.

The throttle: unknown tokens are counted per client address (config.proxies: through the
trusted proxies) in the shared cache, so every web process counts together. Past the limit an
unknown token is answered 429 instead of 404, and a valid one is still served: the token is
always looked up, so a person behind the same address as someone guessing (an office, a mobile
carrier's NAT, the proxy itself when TRUSTED_PROXY_COUNT is wrong) is never locked out. That
gives a guesser nothing: 200 against 404 already told a hit from a miss, and at 192 bits guessing
is hopeless anyway; the count limits the load, makes a guesser visible and answers them slowly
in words. Keying the count by a prefix of the token as well was considered and left out: a
guesser picks a fresh prefix with every guess, so the key would only split their budget.
"""

from __future__ import annotations

import logging
import time
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
from config.proxies import client_address

from .credentials import new_access_token, secret_hash
from .models import Decision

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-Access-Token"  # noqa: S105 - a header name, not a secret
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
    """The link in the decision notice (the `subject-link` page, which opens `subject-decision`)."""
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/access/{token}/"


# ---------------------------------------------------------------------------- look up, revoke, re-issue
OPEN, EXPIRED, REVOKED, UNKNOWN = "open", "expired", "revoked", "unknown"


def access_lookup(token: str) -> tuple[str, Decision | None]:
    """What a token opens: (OPEN, decision); (EXPIRED or REVOKED, decision) for a link that
    worked once; (UNKNOWN, None) for anything else, a replaced (re-issued) token included."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return UNKNOWN, None
    return _access_state(Decision.objects.filter(access_token_hash=secret_hash(token)))


def _access_state(decisions) -> tuple[str, Decision | None]:
    decision = decisions.select_related("model_version__model").first()
    if decision is None:
        return UNKNOWN, None
    if decision.access_revoked_at is not None:
        return REVOKED, decision
    if decision.access_expires_at <= timezone.now():
        return EXPIRED, decision
    return OPEN, decision


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


# ---------------------------------------------------------------------------- session (pages)
SESSION_KEY = "subject_access"
SESSION_MAX_DECISIONS = 10


def subject_session_bind(request, decision: Decision) -> None:
    """After a valid link: the session may open this decision (and those it already held) until
    SUBJECT_SESSION_SECONDS without a page, the browser closes, or the link is revoked or
    re-issued. Several decisions, so that a person with two links (two applications, or a
    decision and its re-decision) keeps both tabs working; the oldest goes past
    SESSION_MAX_DECISIONS."""
    held = _held(request)
    held[str(decision.pk)] = {"hash": decision.access_token_hash, "seen": int(time.time())}
    newest = sorted(held.items(), key=lambda item: item[1]["seen"])[-SESSION_MAX_DECISIONS:]
    # A new key, as a sign-in does: a session id planted before the link was opened (session
    # fixation) must not become one that opens the decision.
    request.session.cycle_key()
    request.session[SESSION_KEY] = dict(newest)
    if not request.user.is_authenticated:  # a staff member's session keeps its own expiry
        request.session.set_expiry(0)


def subject_session_lookup(request, decision_id) -> tuple[str, Decision | None]:
    """What this session opens for `decision_id`: as access_lookup, with (UNKNOWN, None) for a
    decision the session was not given, whose binding went idle, or whose link was re-issued
    since (the stored hash no longer matches)."""
    held = _held(request)
    binding = held.get(str(decision_id))
    if binding is None:
        return UNKNOWN, None
    now = int(time.time())
    if now - binding.get("seen", 0) > settings.SUBJECT_SESSION_SECONDS:
        del held[str(decision_id)]
        request.session[SESSION_KEY] = held
        return UNKNOWN, None
    state, decision = _access_state(
        Decision.objects.filter(pk=decision_id, access_token_hash=binding.get("hash"))
    )
    if state == OPEN and now - binding["seen"] > 60:  # idle time counts from the last page
        binding["seen"] = now
        request.session[SESSION_KEY] = held
    return state, decision


def _held(request) -> dict:
    held = request.session.get(SESSION_KEY)
    return dict(held) if isinstance(held, dict) else {}


# ---------------------------------------------------------------------------- throttle
def _throttle_key(address: str) -> str:
    return f"subject-bad-token:{address}"


def token_attempts_blocked(address: str) -> bool:
    """Whether this address is past the limit of unknown tokens (ask only for an unknown one)."""
    try:
        count = cache.get(_throttle_key(address)) or 0
    except Exception:  # noqa: BLE001 - the cache (Redis) is down: do not turn every guess into a 500
        logger.warning("subject throttle: cache unavailable, not counting")
        return False
    return count >= settings.SUBJECT_BAD_TOKEN_LIMIT


def token_attempt_failed(address: str) -> None:
    key = _throttle_key(address)
    window = settings.SUBJECT_BAD_TOKEN_WINDOW_SECONDS
    try:
        # add() starts the window only once; incr() is atomic in Redis and keeps its expiry.
        if not cache.add(key, 1, timeout=window):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=window)
    except Exception:  # noqa: BLE001 - as above
        logger.warning("subject throttle: cache unavailable, not counting")


def token_refusal(request, token: str) -> tuple[str, Decision | None, bool]:
    """Look the token up and count it if unknown: (state, decision, throttled), where throttled
    says the address was already past the limit (answer 429 rather than 404). The lookup comes
    first, so that a valid token is served however many unknown ones came from the address."""
    state, decision = access_lookup(token)
    if state != UNKNOWN:
        return state, decision, False
    address = client_address(request)
    throttled = token_attempts_blocked(address)
    token_attempt_failed(address)
    return state, decision, throttled


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
    """`X-Access-Token: <token>`; unknown tokens are counted and throttled exactly as on the
    pages (the same count per client address), and a valid one is always served."""

    def authenticate(self, request):
        token = request.META.get("HTTP_X_ACCESS_TOKEN", "").strip()
        if not token:
            return None
        state, decision, throttled = token_refusal(request, token)
        if throttled:
            raise exceptions.Throttled(
                wait=settings.SUBJECT_BAD_TOKEN_WINDOW_SECONDS,
                detail="too many invalid access tokens; wait and try again",
            )
        if state != OPEN:
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
