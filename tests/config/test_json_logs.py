"""Structured logs (config/settings/logs.py): one JSON object per line with the request id, still
redacted (config.log_filters); plain text in DEBUG. Run in a fresh interpreter, since the settings
read LOG_FORMAT once, with the handler writing to that process's stderr as in production."""

import json

import pytest

from tests.services import settings_process, wait_until

TOKEN = "Zm9vYmFyYmF6cXV4cXV1eHF1dXhmb29i"  # an access token's shape: 32 URL-safe characters
EMAIL = "wallaby.subject@example.org"
# A 404 that needs no database: django.request warns "Not Found: <path>" inside the request.
REQUEST = f"""
import logging
import django
django.setup()
from django.test import Client
Client().get("/nowhere/access/{TOKEN}/{EMAIL}/", HTTP_X_REQUEST_ID="rid-json-1")
try:
    raise ConnectionRefusedError("550 no such mailbox: {EMAIL}")
except ConnectionRefusedError:
    logging.getLogger("reviews.emails").exception("sending to %s failed", "{EMAIL}", extra={{"to": "{EMAIL}"}})
"""


def lines(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]


def records(worker_output: str) -> list[dict]:
    """The log records of a worker's output: its start-up banner and Python's warnings are not."""
    return [json.loads(line) for line in worker_output.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def json_run():
    # Python's warnings (whitenoise's about a missing static folder) are not log records.
    done = settings_process(REQUEST, LOG_FORMAT="json", PYTHONWARNINGS="ignore")
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_a_requests_warning_is_one_json_object_with_its_request_id(json_run):
    [warning] = [r for r in lines(json_run) if r["logger"] == "django.request"]
    assert warning["level"] == "WARNING"
    assert warning["request_id"] == "rid-json-1"
    assert warning["message"] == "Not Found: /nowhere/access/<token>/<email>/"
    assert warning["time"].endswith("+00:00") and warning["time"][:2] == "20"
    assert "request" not in warning  # the request object's repr would repeat the path


def test_redaction_holds_in_json_for_tracebacks_and_extra_fields(json_run):
    assert TOKEN not in json_run and EMAIL not in json_run
    [failure] = [r for r in lines(json_run) if r["logger"] == "reviews.emails"]
    assert failure["message"] == "sending to <email> failed"
    assert failure["to"] == "<email>"
    assert "ConnectionRefusedError: 550 no such mailbox: <email>" in failure["exc_info"]
    assert failure["request_id"] is None  # logged after the request ended


def test_debug_writes_plain_text_by_default():
    done = settings_process(REQUEST, DEBUG="1", PYTHONWARNINGS="ignore")
    assert done.returncode == 0, done.stderr
    assert "WARNING django.request Not Found: /nowhere/access/<token>/<email>/" in done.stderr
    assert not done.stderr.lstrip().startswith("{")
    assert TOKEN not in done.stderr and EMAIL not in done.stderr


def test_an_unknown_format_is_refused_at_start():
    done = settings_process("import django; django.setup()", LOG_FORMAT="xml")
    assert done.returncode != 0 and "LOG_FORMAT must be json or text; got 'xml'" in done.stderr


@pytest.mark.integration
def test_a_task_enqueued_by_a_request_logs_with_its_request_id(
    worker_factory, credit_version, applicant, integration
):
    worker = worker_factory(env={"LOG_FORMAT": "json"})
    response = integration.post(
        "/api/v1/decisions/",
        {"model": "credit-risk", "subject_ref": "applicant-rid", "features": applicant},
        format="json",
        HTTP_X_REQUEST_ID="rid-decision-7",
    )
    assert response.status_code == 201 and response["X-Request-ID"] == "rid-decision-7"

    def drained() -> list[dict]:
        # The drain's own line: "version <id>: {batches...}", logged inside the task.
        return [r for r in records(worker.log()) if r["logger"] == "explanations.tasks" and r.get("task_id")]

    wait_until(lambda: drained(), timeout=60, what="the drain's log line", state=lambda: worker.log()[-2000:])
    [line] = drained()
    assert line["request_id"] == "rid-decision-7"
    assert line["task_name"] == "explanations.explain_pending"
    assert line["message"] == f"version {credit_version.pk}: {{'done': 1, 'failed': 0, 'batches': 1}}"
    # Lines outside any task (the worker starting, a task received) carry no request id.
    assert any(r["request_id"] is None and "ready." in r["message"] for r in records(worker.log()))
