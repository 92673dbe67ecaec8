"""A file export through the API, written by a real Celery worker, downloaded and verified."""

import json

import pytest
from django.core.management import call_command

from audit import signing
from decisions.models import Decision
from oversight.api import ExportSerializer
from oversight.models import Export
from tests.conftest import client_for
from tests.services import wait_until

pytestmark = pytest.mark.integration


def test_large_export_runs_on_a_worker_with_progress_and_a_download(worker, recorded, auditor, tmp_path):
    client = client_for(auditor)
    created = client.post("/api/v1/audit/exports/", {"kind": "decisions", "format": "jsonl"}, format="json")
    assert created.status_code == 202 and created.json()["rows_expected"] == 8
    export_id = created.json()["id"]
    page = client.get(f"/audit/exports/{export_id}/").content.decode()
    assert 'http-equiv="refresh"' in page or "Done" in page
    wait_until(
        lambda: Export.objects.get(pk=export_id).status in ("done", "failed"),
        timeout=60,
        what="the export",
        state=lambda: worker.log()[-2000:],
    )
    status = client.get(f"/api/v1/audit/exports/{export_id}/").json()
    assert status["status"] == "done" and status["rows_written"] == 8 and status["progress_percent"] == 100
    # The schema's description of an export (audit.api.ExportSerializer) has the body's fields.
    assert set(status) == set(ExportSerializer().fields)
    download = client.get(f"/api/v1/audit/exports/{export_id}/download/")
    body = b"".join(download.streaming_content)
    ids = [json.loads(line)["id"] for line in body.splitlines()]
    assert sorted(ids) == sorted(str(pk) for pk in Decision.objects.values_list("id", flat=True))
    (tmp_path / "export.jsonl").write_bytes(body)
    (tmp_path / "manifest.json").write_bytes(
        client.get(f"/api/v1/audit/exports/{export_id}/manifest/").content
    )
    (tmp_path / "key.pem").write_text(client.get("/api/v1/audit/public-key").content.decode())
    call_command(
        "verify_export",
        str(tmp_path / "export.jsonl"),
        str(tmp_path / "manifest.json"),
        "--public-key",
        str(tmp_path / "key.pem"),
    )
    assert "Download" in client.get(f"/audit/exports/{export_id}/").content.decode()
    assert signing.key_id() == json.loads((tmp_path / "manifest.json").read_text())["key_id"]
