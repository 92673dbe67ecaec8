"""Auditor pages and API refuse everyone else; every write endpoint refuses auditors."""

import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from tests.conftest import client_for

pytestmark = pytest.mark.django_db

PAGES = [
    "/audit/",
    "/audit/versions/{v}/",
    "/audit/versions/{v}/fairness/",
    "/audit/versions/{v}/drift/",
    "/audit/events/",
    "/audit/verify/",
    "/audit/exports/",
]
API = [
    "/api/v1/audit/events/",
    "/api/v1/audit/verification/",
    "/api/v1/audit/exports/",
    "/api/v1/audit/statistics/credit-risk/1.0.0/",
]


def test_auditor_reads_every_page(recorded, auditor):
    client = client_for(auditor)
    for url in PAGES + API:
        response = client.get(url.format(v=recorded.pk))
        assert response.status_code == 200, url


def test_pages_refuse_everyone_else(recorded, caseworker, nobody, api_key, client):
    for url in PAGES:
        url = url.format(v=recorded.pk)
        for user in (caseworker, nobody):
            assert client_for(user).get(url).status_code == 403, (url, user)
        anonymous = client.get(url)
        assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
        with_key = client.get(url, HTTP_AUTHORIZATION=f"Api-Key {api_key.raw}")
        assert with_key.status_code == 302, url


def test_api_refuses_everyone_else(recorded, caseworker, nobody, integration):
    for url in API:
        for client in (client_for(caseworker), client_for(nobody), integration, APIClient()):
            assert client.get(url).status_code in (401, 403), url
    assert integration.post("/api/v1/audit/exports/", {"kind": "events"}, format="json").status_code == 403


def _api_routes(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _api_routes(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def _concrete(route: str) -> str:
    for kind, value in (("uuid", str(uuid.uuid4())), ("int", "1"), ("slug", "credit-risk"), ("str", "x")):
        while f"<{kind}:" in route:
            start = route.index(f"<{kind}:")
            route = route[:start] + value + route[route.index(">", start) + 1 :]
    return "/" + route.lstrip("^").rstrip("$")


# 401 (a subject-token endpoint), 403 or 405: refused either way.
# Auditor actions that leave the record as it is: asking for an export, and recomputing an
# explanation to compare it with the stored one (an audit event is all either writes).
AUDITOR_MAY_POST = {"api/v1/audit/exports/", "api/v1/decisions/<uuid:pk>/explanation/recompute/"}


def test_every_write_endpoint_refuses_auditors(recorded, auditor):
    client = client_for(auditor)
    checked = 0
    for route, _ in _api_routes():
        if not route.startswith("api/v1/") or route in AUDITOR_MAY_POST:
            continue
        url = _concrete(route)
        for method in ("post", "put", "patch", "delete"):
            response = getattr(client, method)(url, {}, format="json")
            assert response.status_code in (401, 403, 405), (method, url, response.status_code)
            checked += response.status_code == 403
    assert checked >= 3  # decisions, bulk, models at least


def test_auditor_pages_accept_only_reads(recorded, auditor):
    client = client_for(auditor)
    for url in PAGES:
        if url == "/audit/exports/":
            continue
        assert client.post(url.format(v=recorded.pk)).status_code == 405, url


def test_metrics_are_for_the_monitoring_systems_token_alone(recorded, auditor, caseworker, api_key, settings):
    """/metrics declares its own role: the holder of METRICS_TOKEN (oversight.metrics). No staff
    session nor API key stands in for it."""
    settings.METRICS_TOKEN = "monitoring-token"
    for client in (client_for(auditor), client_for(caseworker), APIClient()):
        assert client.get("/metrics").status_code == 401
    assert APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Api-Key {api_key.raw}").status_code == 401
    assert APIClient().get("/metrics", HTTP_AUTHORIZATION="Bearer monitoring-token").status_code == 200
