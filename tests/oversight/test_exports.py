"""Exports hold every selected row exactly once, and their signed manifests catch any change."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit import signing
from audit.events import event_hash
from audit.models import Action, AuditEvent
from config.errors import ApplicationError
from decisions.models import Decision
from decisions.registry import schema_of
from oversight.exports import export_create, export_path, export_run
from oversight.models import Export
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def run(user, kind, fmt="jsonl", **filters) -> Export:
    export = export_create(user=user, kind=kind, fmt=fmt, mode="file", filters=filters)
    # The task body, called directly (a real worker runs it in test_export_worker.py).
    return export_run(export_id=export.pk)


def write_manifest(export: Export, tmp_path: Path) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(export.manifest))
    return path


def write_public_key(tmp_path: Path) -> Path:
    path = tmp_path / "key.pem"
    path.write_text(signing.public_key_pem())
    return path


def jsonl(export: Export) -> list[dict]:
    return [json.loads(line) for line in export_path(export).read_text().splitlines()]


def test_decisions_jsonl_holds_every_selected_decision_once(recorded, auditor):
    export = run(auditor, "decisions")
    rows = jsonl(export)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == 8
    assert set(ids) == {str(pk) for pk in Decision.objects.values_list("id", flat=True)}
    assert export.manifest["rows"] == 8 and export.manifest["counts"] == {"explanations": 8}
    first = rows[0]
    stored = Decision.objects.get(pk=first["id"])
    assert first["features"] == stored.features
    assert first["score"] == stored.score and first["outcome"] == stored.outcome
    assert first["explanation"]["status"] == "done"
    # Numbers keyed by feature; the labels are in the record of processing.
    assert first["explanation"]["contributions"] == stored.explanations.get(is_current=True).contributions
    # Every model input; monitored attributes are recorded but never explained.
    assert set(first["explanation"]["contributions"]) == set(schema_of(stored.model_version).names)
    assert first["reviews"] == []


def test_filters_select_exactly_the_matching_decisions(recorded, auditor):
    outcome = Decision.objects.values_list("outcome", flat=True).first()
    expected = {str(pk) for pk in Decision.objects.filter(outcome=outcome).values_list("id", flat=True)}
    export = run(auditor, "decisions", model="credit-risk", outcome=outcome)
    assert [r["id"] for r in jsonl(export)] == sorted(
        expected, key=lambda pk: (Decision.objects.get(pk=pk).decided_at, pk)
    )
    assert run(auditor, "decisions", date_to="2001-01-01").manifest["rows"] == 0


def test_a_date_filter_covers_the_whole_day(recorded, auditor):
    today = Decision.objects.values_list("decided_at", flat=True).first().date().isoformat()
    assert run(auditor, "decisions", date_from=today, date_to=today).manifest["rows"] == 8
    with pytest.raises(ApplicationError) as refused:
        run(auditor, "decisions", date_from="2026-02-30")
    assert set(refused.value.fields) == {"date_from"}


def test_decisions_csv_holds_every_decision_once(recorded, auditor):
    export = run(auditor, "decisions", fmt="csv")
    with open(export_path(export), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["id"] for r in rows) == sorted(
        str(pk) for pk in Decision.objects.values_list("id", flat=True)
    )
    assert json.loads(rows[0]["features"]) == Decision.objects.get(pk=rows[0]["id"]).features
    assert export.manifest["rows"] == 8


def test_events_export_holds_each_event_once_and_each_recomputes(recorded, auditor):
    export = run(auditor, "events")
    rows = jsonl(export)
    last = export.manifest["checkpoint"]["last_event_id"]
    assert [r["id"] for r in rows] == list(
        AuditEvent.objects.filter(id__lte=last).values_list("id", flat=True)
    )
    assert rows[-1]["hash"] == export.manifest["checkpoint"]["head_hash"]
    prev = "0" * 64
    for row in rows:
        fields = {k: row[k] for k in ("actor_type", "actor_id", "action", "object_type", "object_id", "data")}
        from datetime import datetime

        assert row["prev_hash"] == prev
        assert (
            event_hash(prev_hash=prev, created_at=datetime.fromisoformat(row["created_at"]), **fields)
            == row["hash"]
        )
        prev = row["hash"]


def test_events_export_filters_by_kind(recorded, auditor):
    export = run(auditor, "events", actions=[Action.EXPLANATION_COMPUTED])
    rows = jsonl(export)
    assert len(rows) == 8 and {r["action"] for r in rows} == {Action.EXPLANATION_COMPUTED}


def test_record_of_processing_is_built_from_the_registry(recorded, auditor):
    export = run(auditor, "record_of_processing")
    (entry,) = jsonl(export)
    assert entry["processing"] == "credit-risk@1.0.0"
    assert entry["retention_days"] == recorded.retention_days
    assert entry["purpose"] == recorded.purpose and entry["legal_basis"] == recorded.legal_basis
    assert "Age" in entry["protected_characteristics"]
    assert entry["recipients"]["integrating_systems"] == ["core-banking"]
    assert len(entry["data_categories"]) == len(recorded.feature_schema["features"])


def test_manifest_verifies_and_any_change_fails(recorded, auditor, tmp_path, capsys):
    export = run(auditor, "decisions")
    manifest, key = write_manifest(export, tmp_path), write_public_key(tmp_path)
    original = export_path(export).read_bytes()
    copy = tmp_path / "export.jsonl"
    copy.write_bytes(original)
    call_command("verify_export", str(copy), str(manifest), "--public-key", str(key))
    assert "export verifies: 8 rows" in capsys.readouterr().out

    # One changed character, a dropped row, an added row: each fails.
    for altered in (
        original.replace(b'"approved"', b'"refused"', 1)
        if b'"approved"' in original
        else original.replace(b'"refused"', b'"approved"', 1),
        b"\n".join(original.splitlines()[1:]) + b"\n",
        original + original.splitlines(keepends=True)[0],
    ):
        copy.write_bytes(altered)
        with pytest.raises(CommandError, match="sha256 of the file"):
            call_command("verify_export", str(copy), str(manifest), "--public-key", str(key))

    # A manifest edited to match the altered file no longer carries a valid signature.
    copy.write_bytes(altered)
    forged = dict(
        export.manifest, sha256=hashlib.sha256(altered).hexdigest(), size_bytes=len(altered), rows=9
    )
    manifest.write_text(json.dumps(forged))
    with pytest.raises(CommandError, match="signature is invalid"):
        call_command("verify_export", str(copy), str(manifest), "--public-key", str(key))


def test_manifest_signed_by_another_key_fails(recorded, auditor, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    export = run(auditor, "events")
    other = tmp_path / "other.pem"
    other.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(CommandError, match="signature is invalid"):
        call_command(
            "verify_export",
            str(export_path(export)),
            str(write_manifest(export, tmp_path)),
            "--public-key",
            str(other),
        )


def test_a_manifest_stripped_of_its_signature_fails(recorded, auditor, tmp_path):
    """Removing the signature does not turn the check off: a manifest whose sha256, size and rows
    were rewritten to match a changed file, and whose signature was then dropped, is refused."""
    export = run(auditor, "decisions")
    original = export_path(export).read_bytes()
    altered = b"\n".join(original.splitlines()[1:]) + b"\n"
    copy = tmp_path / "export.jsonl"
    copy.write_bytes(altered)
    forged = dict(
        export.manifest,
        sha256=hashlib.sha256(altered).hexdigest(),
        size_bytes=len(altered),
        rows=export.manifest["rows"] - 1,
    )
    del forged["signature"]
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(forged))
    with pytest.raises(CommandError) as refused:
        call_command(
            "verify_export", str(copy), str(manifest), "--public-key", str(write_public_key(tmp_path))
        )
    assert "signature is invalid" in str(refused.value)
    assert "sha256" not in str(refused.value) and "rows" not in str(refused.value)


def test_streamed_export_from_the_page_has_a_signed_manifest(recorded, auditor, tmp_path):
    client = client_for(auditor)
    response = client.post("/audit/exports/", {"kind": "decisions", "format": "csv", "mode": "stream"})
    assert response.status_code == 200 and response.streaming
    body = b"".join(response.streaming_content)
    export = Export.objects.get(pk=response["X-Export-Id"])
    assert export.status == "done" and export.sha256 == hashlib.sha256(body).hexdigest()
    assert len(list(csv.reader(io.StringIO(body.decode())))) == 1 + 8
    manifest = client.get(f"/audit/exports/{export.pk}/manifest/")
    (tmp_path / "manifest.json").write_bytes(manifest.content)
    (tmp_path / "export.csv").write_bytes(body)
    call_command(
        "verify_export",
        str(tmp_path / "export.csv"),
        str(tmp_path / "manifest.json"),
        "--public-key",
        str(write_public_key(tmp_path)),
    )
    actions = list(AuditEvent.objects.filter(object_id=str(export.pk)).values_list("action", flat=True))
    assert actions == [Action.EXPORT_REQUESTED, Action.EXPORT_COMPLETED]


def test_bad_filters_are_refused_with_every_field_named(recorded, auditor):
    client = client_for(auditor)
    response = client.post(
        "/api/v1/audit/exports/",
        {"kind": "decisions", "filters": {"model": "nope", "actions": ["x.y"], "date_from": "yesterday"}},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"model", "actions", "date_from"}
    assert not Export.objects.exists()


def test_the_event_api_filters_and_names_a_filter_it_cannot_read(recorded, auditor):
    client = client_for(auditor)

    def ids(**params) -> set[int]:
        response = client.get("/api/v1/audit/events/", {"page_size": 1000, **params})
        assert response.status_code == 200, response.content
        return {e["id"] for e in response.json()["results"]}

    recorded_ids = set(
        AuditEvent.objects.filter(action=Action.DECISION_RECORDED).values_list("id", flat=True)
    )
    assert len(recorded_ids) == 8
    assert ids(action=Action.DECISION_RECORDED) == recorded_ids
    by_key = set(AuditEvent.objects.filter(actor_type="api_key").values_list("id", flat=True))
    assert by_key and ids(actor_type="api_key") == by_key
    one = AuditEvent.objects.filter(action=Action.DECISION_RECORDED).first()
    assert ids(object_type="decision", object_id=one.object_id) == {
        e.id for e in AuditEvent.objects.filter(object_type="decision", object_id=one.object_id)
    }
    # A misspelt filter is not an empty page: 400, naming each parameter as sent.
    response = client.get(
        "/api/v1/audit/events/", {"action": "decision.recordd", "actor_type": "robot", "date_from": "soon"}
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"action", "actor_type"}
    response = client.get("/api/v1/audit/events/", {"date_from": "soon"})
    assert response.status_code == 400 and set(response.json()["errors"]) == {"date_from"}


def test_public_key_is_published_as_pem(client):
    response = client.get("/api/v1/audit/public-key")
    assert response.status_code == 200
    assert response.content.decode() == signing.public_key_pem()
    assert response["X-Key-Id"] == signing.key_id()


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_rows_spanning_many_chunks_are_each_written_once(recorded, auditor, monkeypatch, fmt):
    import oversight.export_lines

    monkeypatch.setattr(oversight.export_lines, "CHUNK_ROWS", 3)
    export = run(auditor, "decisions", fmt=fmt)
    assert export.manifest["rows"] == 8
    events = run(auditor, "events", fmt=fmt)
    assert (
        events.manifest["rows"]
        == AuditEvent.objects.filter(id__lte=events.manifest["checkpoint"]["last_event_id"]).count()
    )


def test_an_export_whose_worker_died_is_queued_again_then_failed(
    recorded, auditor, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from oversight.exports import export_claim, exports_sweep

    export = export_create(user=auditor, kind="decisions", fmt="jsonl", mode="file", filters={})
    export_claim(export_id=export.pk)  # a worker took it, then died: no heartbeat since
    silent = timezone.now() - timedelta(minutes=10)
    Export.objects.filter(pk=export.pk).update(heartbeat_at=silent)
    with django_capture_on_commit_callbacks() as queued:
        assert exports_sweep() == {"requeued": 1, "failed": 0}
    assert Export.objects.get(pk=export.pk).status == "pending" and len(queued) == 1
    finished = export_run(export_id=export.pk)  # the re-queued task, run here
    assert finished.status == "done" and finished.attempts == 2 and finished.manifest["rows"] == 8

    # One that keeps dying is failed, with the reason and an audit event.
    Export.objects.filter(pk=export.pk).update(status="running", heartbeat_at=silent, attempts=3)
    assert exports_sweep() == {"requeued": 0, "failed": 1}
    gone = Export.objects.get(pk=export.pk)
    assert gone.status == "failed" and "no heartbeat" in gone.error
    assert AuditEvent.objects.filter(action=Action.EXPORT_FAILED, object_id=str(export.pk)).count() == 1


def test_a_streamed_export_whose_process_died_fails(recorded, auditor):
    from datetime import timedelta

    from django.utils import timezone

    from oversight.exports import export_claim, exports_sweep

    export = export_create(user=auditor, kind="events", fmt="jsonl", mode="stream", filters={})
    export_claim(export_id=export.pk)
    Export.objects.filter(pk=export.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    assert exports_sweep() == {"requeued": 0, "failed": 1}
    assert Export.objects.get(pk=export.pk).status == "failed"


def test_a_running_export_with_a_fresh_heartbeat_is_left_alone(recorded, auditor):
    from oversight.exports import export_claim, exports_sweep

    export = export_create(user=auditor, kind="decisions", fmt="jsonl", mode="file", filters={})
    export_claim(export_id=export.pk)
    assert exports_sweep() == {"requeued": 0, "failed": 0}
    assert Export.objects.get(pk=export.pk).status == "running"
