"""Bad input is a 4xx that names what is wrong and changes nothing: control characters in path
segments (config.converters), crafted cursors and page sizes (config.pagination), empty filters
(explanations.filters), control characters in text and JSON documents (config.text), an
over-long sign-in username (config.forms) and export filters of the wrong type."""

import base64
import json

import pytest
from axes.models import AccessAttempt

from audit.models import AuditEvent
from tests.conftest import client_for


def cursor(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


# ---------------------------------------------------------------------------- path segments
@pytest.mark.django_db
@pytest.mark.parametrize("segment", ["a%00b", "%00", "a%01b", "a%1Fb", "a%7Fb", "a%C2%85b"])
def test_control_characters_in_a_path_segment_name_no_endpoint(integration, caseworker, auditor, segment):
    staff, audit = client_for(caseworker), client_for(auditor)
    events = AuditEvent.objects.count()
    answers = [
        integration.get(f"/api/v1/models/credit-risk/versions/{segment}/"),
        integration.post(f"/api/v1/models/credit-risk/versions/{segment}/promote/"),
        audit.get(f"/api/v1/audit/statistics/credit-risk/{segment}/"),
        staff.get(f"/api/v1/reviews/{segment}/"),
        staff.post(f"/api/v1/reviews/{segment}/take/"),
        staff.get(f"/cases/{segment}/"),
    ]
    assert [a.status_code for a in answers] == [404] * 6
    assert answers[0].json()["detail"].startswith("no such endpoint")
    assert AuditEvent.objects.count() == events


# ---------------------------------------------------------------------------- pagination
CRAFTED_CURSORS = [
    cursor("p=\x00&o=1"),
    cursor("p=not-a-date"),
    cursor("p=2020-13-01"),
    "not base64 at all",
]


@pytest.mark.django_db
@pytest.mark.parametrize("crafted", CRAFTED_CURSORS)
def test_a_crafted_cursor_is_a_400_naming_it(integration, auditor, crafted):
    for client, path in [(integration, "/api/v1/decisions/"), (client_for(auditor), "/api/v1/audit/events/")]:
        response = client.get(path, {"cursor": crafted})
        assert response.status_code == 400, path
        assert response.json()["errors"] == {
            "cursor": "invalid cursor: send back a next or previous link as it came"
        }


@pytest.mark.django_db
def test_a_cursor_the_api_gave_still_pages(integration, auditor):
    first = client_for(auditor).get("/api/v1/audit/events/", {"page_size": 1})
    assert first.status_code == 200 and first.json()["next"]
    second = client_for(auditor).get(first.json()["next"])
    assert second.status_code == 200
    assert second.json()["results"][0]["id"] < first.json()["results"][0]["id"]


@pytest.mark.django_db
@pytest.mark.parametrize("size", ["null", "", "0", "-1", "501", "1.5", "²", "99999999999999999999"])
def test_a_page_size_that_is_not_one_to_the_maximum_is_a_400_naming_it(integration, size):
    response = integration.get("/api/v1/decisions/", {"page_size": size})
    assert response.status_code == 400
    assert response.json()["errors"] == {"page_size": "must be a whole number from 1 to 500"}


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["decided_after", "decided_before", "subject_ref", "favourable"])
def test_an_empty_filter_is_a_400_naming_it_not_every_decision(integration, name):
    response = integration.get("/api/v1/decisions/", {name: ""})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [name]


# ---------------------------------------------------------------------------- text and JSON
@pytest.mark.django_db
@pytest.mark.parametrize("text", ["a\x01b", "\x1b[2Jcleared", "a\x7f"])
def test_control_characters_in_a_decision_reference_are_refused(integration, credit_version, applicant, text):
    body = {"model": "credit-risk", "subject_ref": "s-1", "reference": text, "features": applicant}
    response = integration.post("/api/v1/decisions/", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"reference": "must not contain control characters"}


@pytest.mark.django_db
def test_lines_a_person_writes_keep_their_breaks_but_no_other_control_character():
    from config.text import json_control_characters
    from reviews.serializers import TextSerializer

    assert TextSerializer(data={"statement": "first line\r\n\tsecond line"}).is_valid()
    refused = TextSerializer(data={"statement": "first\x1b[2J"})
    assert not refused.is_valid()
    assert [str(e) for e in refused.errors["statement"]] == ["must not contain control characters"]
    assert json_control_characters({"a": [1, {"b": "x\x00"}]}) == "a.1.b"
    assert json_control_characters({"a": {"k\x00": 1}}) == "a.'k\\x00'"
    assert json_control_characters({"a": ["line\n", 2.5, None]}) is None


REGISTRATION = {
    "name": "outside-scorer",
    "version": "1",
    "framework": "external",
    "schema": {"features": [{"name": "income", "type": "numeric"}]},
    "output": {"type": "binary", "class_labels": ["no", "yes"], "favourable_label": "yes"},
    "texts": {"purpose": "credit"},
    "training": {"notes": ["fine"]},
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("document", "poisoned", "where"),
    [
        ("texts", {"purpose": "cr\x00edit"}, "purpose"),
        ("training", {"notes": ["f\x00ine"]}, "notes.0"),
        ("schema", {"features": [{"name": "inc\x00ome", "type": "numeric"}]}, "features.0.name"),
    ],
)
def test_a_json_document_with_a_nul_is_refused_at_registration(integration, document, poisoned, where):
    """PostgreSQL refuses \\u0000 in jsonb and text: the registration failed there (a 500)."""
    from decisions.models import ModelVersion

    fields = {**REGISTRATION, document: poisoned}
    form = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in fields.items()}
    response = integration.post("/api/v1/models/", data=form, format="multipart")
    assert response.status_code == 400
    assert response.json()["errors"] == {document: f"must not contain control characters (at {where})"}
    assert not ModelVersion.objects.filter(model__name="outside-scorer").exists()


# ---------------------------------------------------------------------------- export filters
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("filters", "errors"),
    [
        ({"actions": 1}, {"actions": "must be a list of event kinds"}),
        ({"actions": [1, 2]}, {"actions": "must be a list of event kinds"}),
        ({"model": "a\x00b"}, {"model": "must be text without control characters"}),
        ({"outcome": ["refused"]}, {"outcome": "must be text without control characters"}),
        ({"date_to": "9999-12-31"}, {"date_to": "must be a date before 9999-12-31"}),
    ],
)
def test_export_filters_of_the_wrong_kind_are_a_400_naming_them(auditor, filters, errors):
    from oversight.models import Export

    response = client_for(auditor).post(
        "/api/v1/audit/exports/",
        data=json.dumps({"kind": "events", "format": "csv", "filters": filters}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == errors
    assert not Export.objects.exists()


@pytest.mark.django_db
def test_a_day_past_the_last_date_is_a_400_on_the_audit_log(auditor):
    response = client_for(auditor).get("/api/v1/audit/events/", {"date_to": "9999-12-31"})
    assert response.status_code == 400
    assert response.json()["errors"] == {"date_to": "must be a date before 9999-12-31"}


# ---------------------------------------------------------------------------- sign-in
@pytest.mark.django_db
def test_an_over_long_sign_in_username_is_a_form_error(client, caseworker):
    """Django's form checked the length only in the browser; django-axes then failed to store
    the attempt in its 255-character column (a 500)."""
    response = client.post("/accounts/login/", {"username": "u" * 300, "password": "x"})
    assert response.status_code == 200
    assert response.context["form"].errors["username"] == [
        "Ensure this value has at most 150 characters (it has 300)."
    ]
    assert not AccessAttempt.objects.exists()
    assert "_auth_user_id" not in client.session


# ---------------------------------------------------------------------------- page forms
@pytest.mark.django_db
def test_control_characters_in_a_page_form_are_a_form_error(auditor):
    page = client_for(auditor)
    events = AuditEvent.objects.count()
    response = page.post(
        "/audit/erasure/", {"subject_ref": "applicant-\x1b[2J", "reason": "Art. 17(1)(b)\x07"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "subject_ref": ["must not contain control characters"],
        "reason": ["must not contain control characters"],
    }
    assert AuditEvent.objects.count() == events
