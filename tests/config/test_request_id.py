"""The request id (config.request_id): a sane client id is kept, anything else replaced by a fresh
one, every response says which, and gunicorn's access line ends with it."""

import re

import pytest
import requests

from config import request_id
from tests.config.test_gunicorn_logging import T, gunicorn  # noqa: F401 - the real gunicorn fixture
from tests.services import wait_until

FRESH = re.compile(r"[0-9a-f]{32}")  # a uuid4's hex


@pytest.mark.parametrize(
    "sent",
    ["0f5c4b0e-3b1e-4c7a-9d55-0a3e5f3b9c21", "loan-system.7f3a9c:42", "a" * 128],
)
def test_a_sane_client_id_is_echoed(client, sent):
    assert client.get("/healthz", HTTP_X_REQUEST_ID=sent)["X-Request-ID"] == sent


def test_without_one_a_fresh_id_is_made_per_request(client):
    first, second = client.get("/healthz")["X-Request-ID"], client.get("/healthz")["X-Request-ID"]
    assert FRESH.fullmatch(first) and FRESH.fullmatch(second) and first != second


@pytest.mark.parametrize(
    "hostile",
    [
        "",
        "a" * 129,  # too long
        "abc\nERROR forged log line",
        'abc" "level": "CRITICAL',
        "abc def",
        "/access/Zm9vYmFyYmF6cXV4cXV1eHF1dXg/",
        "wallaby@example.org",
        "ünïcode",
    ],
)
def test_a_hostile_id_is_replaced(client, hostile):
    answered = client.get("/healthz", HTTP_X_REQUEST_ID=hostile)["X-Request-ID"]
    assert FRESH.fullmatch(answered)


@pytest.mark.django_db
def test_refusals_and_api_answers_carry_it_too(client, integration):
    assert client.get("/cases/", HTTP_X_REQUEST_ID="rid-redirect")["X-Request-ID"] == "rid-redirect"
    assert client.get("/api/v1/decisions/", HTTP_X_REQUEST_ID="rid-401")["X-Request-ID"] == "rid-401"
    answered = integration.get("/api/v1/decisions/", HTTP_X_REQUEST_ID="rid-api")
    assert (answered.status_code, answered["X-Request-ID"]) == (200, "rid-api")


def test_the_id_is_forgotten_when_the_request_ends(client):
    client.get("/healthz", HTTP_X_REQUEST_ID="rid-finished")
    assert request_id.request_id.get() is None


def test_gunicorns_access_line_ends_with_the_id(gunicorn):  # noqa: F811
    base, access_log, _, _ = gunicorn
    assert requests.get(f"{base}/healthz", headers={"X-Request-ID": "rid-gunicorn-1"}, timeout=T).ok
    wait_until(lambda: "/healthz" in access_log.read_text(), timeout=10, what="the access line")
    [line] = [x for x in access_log.read_text().splitlines() if "rid-gunicorn-1" in x]
    assert line.endswith(" rid-gunicorn-1") and '"GET /healthz HTTP/1.1" 200' in line
