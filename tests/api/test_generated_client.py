"""A Python client generated from /api/schema/ by openapi-python-client works against a live
server: it records a decision (as JSON), reads it, waits for its explanation, lists decisions.
Nothing is registered through it: the model is registered beforehand, as an operator would."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import urllib.request
import uuid

import pytest

from decisions.models import Decision
from explanations.models import Explanation
from tests.conftest import register
from tests.services import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

PACKAGE = "rationale_client"


@pytest.fixture
def generated(live_server, tmp_path):
    """The client package, generated from the live server's schema and imported."""
    with urllib.request.urlopen(f"{live_server.url}/api/schema/?format=json") as response:  # noqa: S310 - our live server
        (tmp_path / "schema.json").write_bytes(response.read())
    # No post-processing hooks: the generated code is imported, not kept, so it needs no ruff.
    (tmp_path / "config.json").write_text(json.dumps({"post_hooks": [], "package_name_override": PACKAGE}))
    generate = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(tmp_path / "schema.json"),
            "--output-path",
            str(tmp_path / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(tmp_path / "config.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert generate.returncode == 0, generate.stdout + generate.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture
def client(generated, live_server, api_key):
    """The generated client, holding the integration's API key. Closed after the test: a
    connection it keeps alive would keep the live server's thread, and its database session."""
    authenticated = generated("client").AuthenticatedClient(
        base_url=live_server.url, token=api_key.raw, prefix="Api-Key", raise_on_unexpected_status=True
    )
    with authenticated:
        yield authenticated


def test_a_generated_client_records_reads_and_lists_decisions(
    generated, client, worker, credit_trained, applicant
):
    register(credit_trained)
    models = generated("models")
    decisions_record, decision_read, decision_explanation_read, decisions_list = (
        generated(f"api.decisions.{name}")
        for name in ("decisions_record", "decision_read", "decision_explanation_read", "decisions_list")
    )

    body = models.DecisionCreate.from_dict(
        {
            "model": "credit-risk",
            "subject_ref": "applicant-7f3a9c",
            "reference": "loan-1",
            "features": applicant,
        }
    )
    recorded = decisions_record.sync(client=client, body=body)
    assert isinstance(recorded, models.Decision), recorded
    stored = Decision.objects.get(pk=recorded.id)
    assert (stored.features, stored.subject_ref, stored.reference) == (
        applicant,
        "applicant-7f3a9c",
        "loan-1",
    )
    assert (recorded.outcome, recorded.score) == (stored.outcome, stored.score)

    read = decision_read.sync(id=recorded.id, client=client)
    assert (read.id, read.outcome, read.model_version) == (recorded.id, stored.outcome, "1.0.0")

    wait_until(
        lambda: decision_explanation_read.sync(id=recorded.id, client=client).status == "done",
        timeout=120,
        interval=0.2,
        what="the decision's explanation, read through the generated client",
    )
    explanation = decision_explanation_read.sync(id=recorded.id, client=client)
    assert explanation.decision == recorded.id
    stored_explanation = Explanation.objects.get(decision_id=recorded.id)
    assert explanation.base_value == stored_explanation.base_value
    assert [(c.feature, c.contribution) for c in explanation.contributions] == [
        (c["feature"], c["contribution"]) for c in stored_explanation.labelled_contributions
    ]

    listed = decisions_list.sync(client=client)
    assert [d.id for d in listed.results] == [recorded.id]
    assert isinstance(recorded.id, uuid.UUID)
