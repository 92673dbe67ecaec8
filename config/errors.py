"""The one domain error type, and its translation into API responses and form errors."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ApplicationError(Exception):
    """A domain rule refused the request; `fields` names each bad input with its message."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, fields: dict[str, Any] | None = None, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if status_code is not None:
            self.status_code = status_code


def add_service_errors(form, exc: ApplicationError) -> None:
    """Show a service's refusal on a page's form: on the field it names where the form has one,
    else above the form."""
    if not exc.fields:
        form.add_error(None, exc.message)
    for field, message in exc.fields.items():
        text = message if isinstance(message, str) else json.dumps(message)
        form.add_error(field if field in form.fields else None, text)


def too_large_detail() -> str:
    return (
        f"request body larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes (MAX_REQUEST_BYTES); "
        "split a bulk into smaller requests"
    )


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": too_large_detail()}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, ApplicationError):
        body: dict[str, Any] = {"detail": exc.message}
        if exc.fields:
            body["errors"] = exc.fields
        return Response(body, status=exc.status_code)
    if isinstance(exc, ValidationError):
        # One shape for every 400: {"detail": ..., "errors": {field: message}}.
        errors = (
            {k: _flatten(v) for k, v in exc.detail.items()}
            if isinstance(exc.detail, dict)
            else {"non_field_errors": _flatten(exc.detail)}
        )
        return Response({"detail": "invalid input", "errors": errors}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


def _flatten(detail: Any) -> Any:
    """DRF wraps each message in a list; one message per field reads better."""
    if isinstance(detail, list) and len(detail) == 1 and not isinstance(detail[0], dict | list):
        return str(detail[0])
    if isinstance(detail, dict):
        return {k: _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_flatten(v) for v in detail]
    return str(detail)


# ---------------------------------------------------------------------------- errors outside views
# Django answers a path that matches no URL pattern, and a crash, itself. Under /api/ the client is
# a program expecting JSON in the API's shape; elsewhere a person, who gets the site's pages.
def _is_api(request) -> bool:
    return request.path_info.startswith("/api/")


def bad_request(request, exception):
    """Django's own 400s: a body over the limit read outside a DRF view, a bad Host header."""
    if not _is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse({"detail": too_large_detail()}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    return JsonResponse({"detail": "bad request"}, status=status.HTTP_400_BAD_REQUEST)


def page_not_found(request, exception):
    if _is_api(request):
        return JsonResponse({"detail": f"no such endpoint: {request.path}"}, status=status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse(
            {"detail": "internal server error"},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    return defaults.server_error(request)
