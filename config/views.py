"""Liveness and readiness probes for the orchestrator (no authentication, no personal data), the
page of a sign-in refused for too many failures, and the 403 page."""

import ipaddress

from django.conf import settings
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.http import JsonResponse
from django.shortcuts import render

from config.celery import app as celery_app
from config.proxies import client_address


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    checks = {}
    try:
        # One real round trip, which also shows the schema is there.
        MigrationRecorder(connection).migration_qs.exists()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["broker"] = f"error: {exc.__class__.__name__}"
    ready = all(value == "ok" for value in checks.values())
    # Said, not checked: a mail server that is down must not take the site out of rotation (the
    # e-mails are logged as failed and the subject's pages show the same). `EMAIL_URL=none`
    # says "disabled", so that an operator sees that nobody is notified.
    email = {"email": "configured" if settings.EMAIL_ENABLED else "disabled"}
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", **checks, **email}, status=200 if ready else 503
    )


def signin_locked_out(request, response, credentials):
    """django-axes' lockout (AXES_LOCKOUT_CALLABLE): too many failed sign-ins for this username
    from this address. 429 with Retry-After; the page says for how long, and what to do."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    locked = render(
        request,
        "registration/locked_out.html",
        {"minutes": max(1, seconds // 60), "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=429,
    )
    locked["Retry-After"] = str(seconds)
    return locked


def signin_client_ip(request) -> str | None:
    """The address a sign-in is counted against (AXES_CLIENT_IP_CALLABLE): as for the subject
    portal, through the trusted proxies only (config.proxies). None where there is no address (a
    unix socket, a test client's force_login): axes stores it in an inet column."""
    address = client_address(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def permission_denied(request, exception):
    """The 403 page (handler403): in the site's layout, why (the refusal the page gave, such as
    "This page is for caseworkers.") and what to do. The API never reaches it: DRF answers its own
    refusals in JSON."""
    return render(request, "403.html", {"reason": str(exception or "")}, status=403)
