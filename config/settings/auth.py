"""Staff sign-in: single sign-on by OpenID Connect, local accounts and their second factor.

Single sign-on is on only where OIDC_RP_CLIENT_ID is set (docs/sign-in.md): the sign-in page then
offers "Sign in with <OIDC_PROVIDER_NAME>" beside the local form, and the provider's groups give
the roles. Local accounts keep working either way.
"""

from django.core.exceptions import ImproperlyConfigured

from .environment import env

# ---------------------------------------------------------------------------- OpenID Connect
# mozilla-django-oidc's settings, read by its views and by decisions.sso's backend.
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default="")
# The provider's `iss`, as its ID tokens carry it: an account is the pair (issuer, sub). Empty
# takes the issuer from each verified ID token; set it so that a token from any other issuer is
# refused.
OIDC_OP_ISSUER = env.str("OIDC_OP_ISSUER", default="")
# Asymmetric signatures only: the client secret must not be the key that signs ID tokens.
OIDC_RP_SIGN_ALGO = env.str("OIDC_RP_SIGN_ALGO", default="RS256")
OIDC_RP_SCOPES = env.str("OIDC_RP_SCOPES", default="openid profile email groups")
OIDC_USE_PKCE = env.bool("OIDC_USE_PKCE", default=True)
OIDC_TIMEOUT = env.int("OIDC_TIMEOUT_SECONDS", default=10)
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="your organisation")
# The claim (in the userinfo answer or the ID token) that lists the person's groups.
OIDC_GROUPS_CLAIM = env.str("OIDC_GROUPS_CLAIM", default="groups")
# role=provider group pairs, comma-separated; a role may be listed more than once to accept
# several groups. Roles: caseworker, auditor, admin (Django's admin site: staff and superuser).
STAFF_ROLES = ("caseworker", "auditor", "admin")


def role_groups(text: str) -> dict[str, list[str]]:
    """Parse "caseworker=a,auditor=b,caseworker=c" as {"caseworker": ["a", "c"], "auditor": ["b"]}."""
    mapping: dict[str, list[str]] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        role, _, group = (part.strip() for part in pair.partition("="))
        if role not in STAFF_ROLES or not group:
            raise ImproperlyConfigured(
                f"OIDC_ROLE_GROUPS: {pair!r} is not ROLE=GROUP with ROLE one of {', '.join(STAFF_ROLES)}"
            )
        mapping.setdefault(role, []).append(group)
    return mapping


OIDC_ROLE_GROUPS = role_groups(
    env.str(
        "OIDC_ROLE_GROUPS",
        default="caseworker=rationale-caseworkers,auditor=rationale-auditors,admin=rationale-admins",
    )
)
# The round trip's views are decisions.sso_views (config/urls.py): a sign-in ends on the page that
# asked for it or on the home page, a refusal on a page saying why.
# The sign-in pause (django-axes, config/settings/__init__.py) counts password sign-ins only.
AXES_WHITELIST_CALLABLE = "decisions.sso.sso_callback_not_paused"
if OIDC_RP_CLIENT_ID and not all(
    (OIDC_RP_CLIENT_SECRET, OIDC_OP_AUTHORIZATION_ENDPOINT, OIDC_OP_TOKEN_ENDPOINT, OIDC_OP_USER_ENDPOINT)
):
    raise ImproperlyConfigured(
        "OIDC_RP_CLIENT_ID is set: OIDC_RP_CLIENT_SECRET, OIDC_OP_AUTHORIZATION_ENDPOINT, "
        "OIDC_OP_TOKEN_ENDPOINT and OIDC_OP_USER_ENDPOINT must be set too (docs/sign-in.md)"
    )
if OIDC_RP_CLIENT_ID and OIDC_RP_SIGN_ALGO.startswith(("RS", "ES", "PS")) and not OIDC_OP_JWKS_ENDPOINT:
    raise ImproperlyConfigured(f"OIDC_RP_SIGN_ALGO={OIDC_RP_SIGN_ALGO} needs OIDC_OP_JWKS_ENDPOINT")

# ---------------------------------------------------------------------------- second factor
# Roles (caseworker, auditor, admin) whose LOCAL sign-ins need a TOTP code (decisions.second_factor).
# Single sign-on relies on the provider's own multi-factor policy. Empty by default so that the
# demo signs in with a password alone; production sets "auditor,caseworker,admin".
OTP_REQUIRED_ROLES = [r.strip() for r in env.str("OTP_REQUIRED_ROLES", default="").split(",") if r.strip()]
if set(OTP_REQUIRED_ROLES) - set(STAFF_ROLES):
    raise ImproperlyConfigured(
        f"OTP_REQUIRED_ROLES: {', '.join(sorted(set(OTP_REQUIRED_ROLES) - set(STAFF_ROLES)))} "
        f"is not a role; roles are {', '.join(STAFF_ROLES)}"
    )
# The name authenticator apps show beside the account.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Rationale")
# After each wrong code the next is refused for 1, 2, 4, 8 ... seconds (django-otp's throttling).
OTP_TOTP_THROTTLE_FACTOR = env.int("OTP_TOTP_THROTTLE_FACTOR", default=1)
