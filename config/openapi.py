"""The OpenAPI schema's `security` and error responses per operation, derived from the view.

drf-spectacular lists every authentication class a view has. Every API view here has both the API
key and the session, but each one's permissions accept only some of them: an integration's key is
refused by the auditor's and caseworker's endpoints, and a person's session by the recording
endpoints. Listing both would tell an integrator that a key opens the audit log. The permissions
are the one place each view states its roles, so the schema reads them from there: each role
permission names its scheme in `openapi_scheme`.

The errors every operation can answer are derived the same way, from what the view is: a
credential it checks (401, 403), a path parameter it looks up (404), a body or query it reads
(400, 413, 415), a throttle (429). Each in the one shape of config/errors.py. Errors that come
from a domain rule (409, 410, 422) are declared on the view that answers them.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers

# The schemes that config/urls.py's views use (decisions.openapi names the two of our own).
SUBJECT_SCHEME = "SubjectAccessToken"
ROLE_SCHEMES = {"ApiKeyAuth", "cookieAuth"}


class ErrorSerializer(serializers.Serializer):
    """Every 4xx body: config.errors.exception_handler's one shape."""

    detail = serializers.CharField(help_text="what was refused, in a sentence")
    errors = serializers.DictField(
        required=False, help_text="each bad input by name (field, header, parameter) with its message"
    )


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


# What each derived status means: the description of its response in every operation.
ERRORS = {
    400: "invalid input: `errors` names each bad field or parameter",
    401: "no credential, or one this operation does not take",
    403: "the credential's role may not do this (or a session's CSRF check failed)",
    404: "no such object",
    413: "request body larger than MAX_REQUEST_BYTES",
    415: "the body is not application/json (the model upload: not multipart/form-data)",
    429: "too many invalid access tokens from this client: wait and retry",
}


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

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in sorted(self._error_codes(operation)):
            responses.setdefault(
                str(code), self._get_response_for_code(error_response(ERRORS[code]), str(code))
            )
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_codes(self, operation: dict) -> set[int]:
        codes = set()
        security = operation.get("security", [])
        schemes = {name for entry in security for name in entry}
        if security and {} not in security:
            codes.add(401)
        if schemes & ROLE_SCHEMES:
            codes.add(403)
        parameters = operation.get("parameters", [])
        if "requestBody" in operation:
            codes |= {400, 413, 415}
        if any(p["in"] != "path" for p in parameters):
            codes.add(400)
        # A wrong access token is a 404 (it looks like a withdrawn decision), and is counted.
        if any(p["in"] == "path" for p in parameters) or SUBJECT_SCHEME in schemes:
            codes.add(404)
        if SUBJECT_SCHEME in schemes or self.view.get_throttles():
            codes.add(429)
        return codes


def refusals(descriptions: dict[int, str]) -> dict[int, OpenApiResponse]:
    """Responses for a view's own domain refusals (409, 410, 422...), in the one error shape."""
    return {code: error_response(text) for code, text in descriptions.items()}
