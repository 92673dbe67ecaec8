"""Staff sign-in: single sign-on by OpenID Connect, local accounts and their second factor."""

from .environment import env  # noqa: F401
