"""The OpenAPI schema's `security` per operation, derived from the view's permissions.

drf-spectacular lists every authentication class a view has. Every API view here has both the API
key and the session, but each one's permissions accept only some of them: an integration's key is
refused by the auditor's and caseworker's endpoints, and a person's session by the recording
endpoints. Listing both would tell an integrator that a key opens the audit log. The permissions
are the one place each view states its roles, so the schema reads them from there: each role
permission names its scheme in `openapi_scheme`.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import permissions


def accepted_schemes(permission) -> set[str] | None:
    """Names of the schemes that can satisfy `permission`, or None where it does not tell (then the
    operation keeps every scheme drf-spectacular found; tests/test_openapi.py checks the result)."""
    if isinstance(permission, permissions.OR):
        first, second = accepted_schemes(permission.op1), accepted_schemes(permission.op2)
        return None if first is None or second is None else first | second
    # Our role permissions name the scheme that can satisfy them (decisions.auth).
    scheme = getattr(permission, "openapi_scheme", None)
    return None if scheme is None else {scheme}


class AutoSchema(SpectacularAutoSchema):
    def get_auth(self):
        found = super().get_auth()
        accepted: set[str] | None = None
        for permission in self.view.get_permissions():
            schemes = accepted_schemes(permission)
            if schemes is not None:
                accepted = schemes if accepted is None else accepted & schemes
        if accepted is None:
            return found
        return [entry for entry in found if set(entry) <= accepted and entry]
