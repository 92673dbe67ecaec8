"""Request bodies: JSON only (the model upload alone is multipart), nested no deeper than
API_JSON_MAX_DEPTH, and never a 500 however deep."""

import json
import random

import pytest
from django.test import override_settings

from config.parsers import JsonTooDeep, json_loads_bounded
from decisions.models import Decision
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
URL = "/api/v1/decisions/"


def nested(depth: int) -> dict:
    value: object = 1
    for level in range(depth - 1):
        value = [value] if level % 2 else {"x": value}
    return {"outer": value}


def _depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def test_a_body_nested_deeper_than_the_limit_is_a_400_naming_it(
    integration, credit_version, applicant, settings
):
    too_deep = {"model": "credit-risk", "subject_ref": "p-1", "features": {**applicant, "extra": nested(40)}}
    response = integration.post(URL, json.dumps(too_deep), content_type="application/json")
    assert response.status_code == 400
    limit = settings.API_JSON_MAX_DEPTH
    assert response.json() == {
        "detail": f"JSON nested deeper than {limit} levels of arrays and objects (API_JSON_MAX_DEPTH)"
    }
    assert not Decision.objects.exists()


@pytest.mark.parametrize(
    "body", ["[" * 100_000, "[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000]
)
def test_a_hundred_thousand_brackets_are_a_400_not_a_recursion_error(integration, body):
    response = integration.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(("JSON nested deeper than", "JSON parse error"))


def test_the_depth_is_a_setting(integration, credit_version, applicant):
    body = {"model": "credit-risk", "subject_ref": "p-1", "features": applicant}
    with override_settings(API_JSON_MAX_DEPTH=1):
        refused = integration.post(URL, json.dumps(body), content_type="application/json")
    assert refused.status_code == 400 and "deeper than 1 levels" in refused.json()["detail"]
    recorded = integration.post(URL, json.dumps(body), content_type="application/json")
    assert recorded.status_code == 201, recorded.content


def test_json_endpoints_refuse_forms_and_the_upload_refuses_json(integration, credit_version, applicant):
    form = integration.post(URL, {"model": "credit-risk", "subject_ref": "p-1"}, format="multipart")
    assert form.status_code == 415
    urlencoded = integration.post(URL, "model=credit-risk", content_type="application/x-www-form-urlencoded")
    assert urlencoded.status_code == 415
    upload = integration.post("/api/v1/models/", {"name": "m", "version": "1"}, format="json")
    assert upload.status_code == 415
    assert not Decision.objects.exists()


def test_a_registered_json_document_is_bounded_by_the_same_depth(integration, settings):
    schema = json.dumps({"features": nested(settings.API_JSON_MAX_DEPTH + 5)})
    response = integration.post(
        "/api/v1/models/",
        {"name": "deep", "version": "1", "framework": "external", "schema": schema, "output": "{}"},
        format="multipart",
    )
    assert response.status_code == 400
    assert "JSON nested deeper than" in response.json()["errors"]["schema"]


def test_the_depth_check_is_exact():
    """Against a recursive measure of the parsed value's depth, over random JSON (with brackets,
    quotes and backslashes inside its strings, which must not count)."""
    rnd = random.Random(21)
    pieces = ["[", "]", "{", "}", '"', "\\", "a", '\\"', "\\\\"]

    def value(depth):
        if depth == 0 or rnd.random() < 0.2:
            return "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 6))) if rnd.random() < 0.7 else 3
        if rnd.random() < 0.5:
            return [value(depth - 1) for _ in range(rnd.randint(0, 3))]
        return {
            "".join(rnd.choice(pieces) for _ in range(3)): value(depth - 1) for _ in range(rnd.randint(0, 3))
        }

    for _ in range(3000):
        parsed = value(rnd.randint(0, 12))
        text = json.dumps(parsed, ensure_ascii=rnd.random() < 0.5)
        limit = rnd.randint(0, 10)
        if _depth(parsed) > limit:
            with pytest.raises(JsonTooDeep):
                json_loads_bounded(text, limit=limit)
        else:
            assert json_loads_bounded(text, limit=limit) == parsed


def test_the_browsable_api_still_offers_a_json_form(auditor):
    """Kept on purpose for people exploring the API signed in: with JSON the only parser, its form
    is the raw JSON one."""
    page = client_for(auditor).get("/api/v1/audit/exports/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert b"application/json" in page.content and b"multipart/form-data" not in page.content
