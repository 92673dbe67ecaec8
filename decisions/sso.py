"""Single sign-on by OpenID Connect for staff: who the provider says a person is, and which roles
its groups give them.

A person is their provider's (issuer, sub) pair, stored in StaffIdentity: never their e-mail
address, which a provider may let people change (matching on it would hand an existing account to
whoever takes the address). The first sign-in creates the account only if a mapped group is
present; every sign-in then sets the account's roles to what the groups say, and the user and role
receivers (decisions.receivers) audit the creation and any change.
"""

from __future__ import annotations

import hashlib
import logging

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from audit.services import Actor

from .auth import AUDITOR, CASEWORKER
from .models import StaffIdentity
from .receivers import acting_as

logger = logging.getLogger(__name__)
User = get_user_model()
ADMIN = "admin"
# The provider made the change: its groups are the source of truth for these accounts.
PROVIDER = Actor.system("sso")
BACKEND_PATH = "decisions.sso.StaffOIDCBackend"
# The provider vouched for the person, but none of their groups gives a role here.
REFUSED_NO_ROLE = "no-role"


def roles_from_groups(groups) -> set[str]:
    """The roles OIDC_ROLE_GROUPS gives to membership of `groups`."""
    # A list as a rule; some providers send a lone group as a string.
    held = {groups} if isinstance(groups, str) else {str(g) for g in groups or ()}
    return {role for role, names in settings.OIDC_ROLE_GROUPS.items() if held & set(names)}


def identity_roles_set(*, user, roles: set[str]) -> None:
    """Give `user` exactly `roles` (caseworker and auditor as groups, admin as Django's staff and
    superuser rights). The receivers write USER_ROLES_CHANGED for any difference, as the provider."""
    with acting_as(PROVIDER):
        wanted = {Group.objects.get_or_create(name=r)[0] for r in roles & {CASEWORKER, AUDITOR}}
        current = set(user.groups.filter(name__in=(CASEWORKER, AUDITOR)))
        if current - wanted:
            user.groups.remove(*(current - wanted))
        if wanted - current:
            user.groups.add(*(wanted - current))
        admin = ADMIN in roles
        if (user.is_staff, user.is_superuser) != (admin, admin):
            user.is_staff = user.is_superuser = admin
            user.save(update_fields=["is_staff", "is_superuser"])


def _username_for(claims: dict, issuer: str, subject: str) -> str:
    """The provider's preferred username where free, else with a suffix from (issuer, sub): a
    local account of the same name is never taken over, only avoided."""
    wanted = str(claims.get("preferred_username") or "sso")[:120]
    if not User.objects.filter(username=wanted).exists():
        return wanted
    return f"{wanted}-{hashlib.sha256(f'{issuer} {subject}'.encode()).hexdigest()[:10]}"


@transaction.atomic
def identity_sign_in(*, issuer: str, subject: str, claims: dict):
    """The account for (issuer, subject) with its roles set from `claims`' groups, created on a
    first sign-in with a mapped group. None when no group maps to a role: nothing is created, and
    an existing account loses every role (committed, so that it holds after the refusal)."""
    roles = roles_from_groups(claims.get(settings.OIDC_GROUPS_CLAIM))
    identity = (
        StaffIdentity.objects.select_related("user")
        .select_for_update()
        .filter(issuer=issuer, subject=subject)
        .first()
    )
    if identity is None:
        if not roles:
            return None
        with acting_as(PROVIDER):
            # No password: the account signs in only through the provider.
            user = User.objects.create_user(username=_username_for(claims, issuer, subject), password=None)
        identity = StaffIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    identity_roles_set(user=identity.user, roles=roles)
    return identity.user if roles else None


def sso_callback_not_paused(request, credentials) -> bool:
    """django-axes' AXES_WHITELIST_CALLABLE: the single sign-on callback is neither counted nor
    paused. It carries no username, so everyone behind one address would share one count, and
    there is no password to guess: the provider limits its own sign-ins."""
    return request is not None and request.path == reverse("oidc_authentication_callback")


class StaffOIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's code flow, with accounts found by (issuer, sub) and roles from groups."""

    def authenticate(self, request, **kwargs):
        # A token that does not verify, a code the provider refuses or a provider that does not
        # answer is a failed sign-in like any other, not a server error: Django's authenticate()
        # then sends user_login_failed (audited) and the callback page says so.
        try:
            return super().authenticate(request, **kwargs)
        except SuspiciousOperation as refused:
            logger.warning("single sign-on refused: %s", refused)
        except requests.RequestException as failed:
            # Not the message: it carries the provider's answer.
            status = getattr(failed.response, "status_code", None)
            logger.warning(
                "single sign-on failed: the provider answered %s (%s)", status, type(failed).__name__
            )
        return None

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        # The library checks the signature and the nonce; the audience and the issuer are ours to
        # check (OpenID Connect Core 3.1.3.7).
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("the ID token was issued to another client")
        expected = settings.OIDC_OP_ISSUER
        if not payload.get("iss") or (expected and payload["iss"] != expected):
            raise SuspiciousOperation("the ID token comes from another issuer")
        return payload

    def get_or_create_user(self, access_token, id_token, payload):
        userinfo = self.get_userinfo(access_token, id_token, payload)
        # The userinfo answer is about the ID token's person only if the subjects agree
        # (OpenID Connect Core 5.3.2).
        if not payload.get("sub") or userinfo.get("sub") != payload["sub"]:
            raise SuspiciousOperation("the userinfo answer names another subject")
        # The userinfo answer first; the groups may come in the ID token alone (Entra ID).
        claims = {**payload, **userinfo}
        user = identity_sign_in(issuer=payload["iss"], subject=payload["sub"], claims=claims)
        if user is None:
            # The callback page says why (decisions.sso_views); Django's authenticate() then sends
            # user_login_failed, which the audit log records.
            self.request.sso_refusal = REFUSED_NO_ROLE
        return user
