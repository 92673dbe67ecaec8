"""The OpenAPI schema and its Swagger UI: complete, truthful about credentials, served offline."""

import re
import uuid
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tests.conftest import client_for

REFUSED = (401, 403)


def test_the_schema_generates_with_no_warning_or_error(tmp_path):
    """drf-spectacular's warnings mark what the schema leaves out (an unknown authenticator, a view
    whose body it cannot guess); --fail-on-warn turns any of them into a failure."""
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3")


def _operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            schemes = {name for entry in operation.get("security", []) for name in entry}
            anonymous = {} in operation.get("security", [])
            yield method, path, schemes, anonymous


def _url(path: str) -> str:
    # Path parameters that match nothing: a refusal must come before any lookup.
    values = {"id": str(uuid.uuid4()), "name": "credit-risk", "version": "1", "reference": "R-NONE"}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def _status(client, method: str, path: str) -> int:
    return getattr(client, method)(_url(path), {}, format="json").status_code


@pytest.mark.django_db
def test_each_operation_lists_exactly_the_credentials_that_open_it(integration, auditor, caseworker):
    """Every operation's `security` is checked against what the server does with each credential:
    a listed credential gets past authentication and the role check, an unlisted one is refused."""
    sessions = [client_for(auditor), client_for(caseworker)]
    anonymous_client = APIClient()
    checked = 0
    for method, path, schemes, anonymous in _operations():
        operation = f"{method.upper()} {path}"
        key_status = _status(integration, method, path)
        session_statuses = [_status(client, method, path) for client in sessions]
        anonymous_status = _status(anonymous_client, method, path)
        if anonymous:  # open to anyone, whatever they send
            assert not schemes, operation
            assert {key_status, *session_statuses, anonymous_status}.isdisjoint(REFUSED), operation
            checked += 1
            continue
        assert anonymous_status in REFUSED, f"{operation} does not say it is open, but let anyone in"
        if "ApiKeyAuth" in schemes:
            assert key_status not in REFUSED, f"{operation} lists the API key but refused it"
        else:
            assert key_status in REFUSED, f"{operation} does not list the API key, but let it in"
        if "cookieAuth" in schemes:
            assert any(s not in REFUSED for s in session_statuses), (
                f"{operation} lists sessions, let no role in"
            )
        else:
            assert all(s in REFUSED for s in session_statuses), (
                f"{operation} does not list sessions, let one in"
            )
        checked += 1
    assert checked >= 30


def test_the_schemes_say_how_to_send_each_credential():
    schemes = SchemaGenerator().get_schema(request=None, public=True)["components"]["securitySchemes"]
    assert schemes["ApiKeyAuth"] | {"description": ""} == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "",
    }
    assert "Api-Key <key>" in schemes["ApiKeyAuth"]["description"]
    assert (schemes["SubjectAccessToken"]["in"], schemes["SubjectAccessToken"]["name"]) == (
        "header",
        "X-Access-Token",
    )
    by_operation = {(m, p): s for m, p, s, _ in _operations()}
    assert by_operation[("post", "/api/v1/decisions/")] == {"ApiKeyAuth"}
    assert by_operation[("get", "/api/v1/audit/events/")] == {"cookieAuth"}
    assert by_operation[("get", "/api/v1/subject/decision/")] == {"SubjectAccessToken"}


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def test_swagger_ui_loads_only_files_this_server_has(client):
    """No CDN: the docs page must work where the servers cannot reach the internet."""
    response = client.get("/api/docs/")
    assert response.status_code == 200
    parser = _Assets()
    parser.feed(response.content.decode())
    assert len(parser.urls) >= 4  # the stylesheet, the bundle, the preset, the start-up script
    static = "/" + settings.STATIC_URL.strip("/") + "/"
    for url in parser.urls:
        if url.startswith("/api/docs/?script"):
            # The start-up script is served apart from the page, so the CSP needs no inline script.
            script = client.get(url)
            assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
            continue
        assert url.startswith(static), url
        assert finders.find(url.removeprefix(static)) is not None, f"{url} is not among the static files"


def test_operation_ids_read_as_actions():
    """A generated client names its functions after them: `decisions_record`, not
    `v1_decisions_create`."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    ids = {
        f"{method.upper()} {path}": operation["operationId"]
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }
    assert ids["POST /api/v1/decisions/"] == "decisions_record"
    assert ids["GET /api/v1/decisions/"] == "decisions_list"
    assert ids["GET /api/v1/decisions/{id}/"] == "decision_read"
    assert ids["GET /api/v1/decisions/{id}/explanation/"] == "decision_explanation_read"
    assert ids["POST /api/v1/models/"] == "models_register"
    assert len(set(ids.values())) == len(ids)
    assert not [i for i in ids.values() if i.startswith("v1_") or i.endswith("_retrieve")]


def test_bodies_are_json_but_for_the_model_upload():
    """Forms too made generated clients send decisions as multipart, which cannot carry features."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    media = {
        f"{method.upper()} {path}": list(operation["requestBody"]["content"])
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    }
    assert media.pop("POST /api/v1/models/") == ["multipart/form-data"]
    assert len(media) >= 10
    assert all(types == ["application/json"] for types in media.values()), media
