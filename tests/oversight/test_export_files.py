"""Export files hold personal data: only their owner can read them, and they are deleted
EXPORT_FILE_RETENTION_DAYS after they were written; the row and its manifest stay."""

import os
import stat
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.chain import verify_chain
from audit.models import Action, AuditEvent
from oversight.export_files import open_private
from oversight.exports import export_path
from oversight.models import Export
from oversight.tasks import delete_expired_export_files
from tests.conftest import client_for
from tests.oversight.test_exports import run

pytestmark = pytest.mark.django_db


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_an_export_file_is_readable_by_its_owner_only_whatever_the_umask(recorded, auditor):
    previous = os.umask(0)
    try:
        export = run(auditor, "decisions")
    finally:
        os.umask(previous)
    assert export.status == Export.Status.DONE
    assert mode(export_path(export)) == 0o600


def test_a_partial_file_left_by_an_earlier_attempt_is_made_private(tmp_path):
    path = tmp_path / "exports" / "x.jsonl.part"
    path.parent.mkdir()
    path.write_text("old attempt")
    path.chmod(0o644)
    with open_private(path) as handle:
        handle.write(b"new")
    assert (mode(path), path.read_bytes()) == (0o600, b"new")


def test_a_file_past_retention_is_deleted_and_the_api_and_page_say_so(recorded, auditor, settings):
    settings.EXPORT_FILE_RETENTION_DAYS = 7
    old, fresh = run(auditor, "decisions"), run(auditor, "events")
    Export.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=8))
    Export.objects.filter(pk=fresh.pk).update(finished_at=timezone.now() - timedelta(days=6))

    delete_expired_export_files()  # the task's body, as beat runs it

    assert (export_path(old).exists(), export_path(fresh).exists()) == (False, True)
    old.refresh_from_db()
    assert old.file_deleted_at is not None and old.status == Export.Status.DONE and old.manifest
    event = AuditEvent.objects.get(action=Action.PERSONAL_DATA_ERASED, object_type="export")
    assert (event.object_id, event.data) == (str(old.pk), {"retention_days": 7, "sha256": old.sha256})
    assert verify_chain().ok
    gone = f"the export file was deleted on {old.file_deleted_at:%Y-%m-%d}, 7 days after it was written"

    api = client_for(auditor)
    body = api.get(f"/api/v1/audit/exports/{old.pk}/").json()
    assert (body["download_url"], body["file_deleted_at"]) == (None, old.file_deleted_at.isoformat())
    download = api.get(f"/api/v1/audit/exports/{old.pk}/download/")
    assert download.status_code == 410 and download.json()["detail"].startswith(gone)
    assert api.get(f"/api/v1/audit/exports/{old.pk}/manifest/").status_code == 200
    assert api.get(f"/api/v1/audit/exports/{fresh.pk}/download/").status_code == 200

    page = api.get(f"/audit/exports/{old.pk}/download/")
    assert page.status_code == 410 and page.content.decode().startswith(gone)
    detail = api.get(f"/audit/exports/{old.pk}/").content.decode()
    assert 'id="export-file-deleted"' in detail and "/download/" not in detail

    delete_expired_export_files()
    assert AuditEvent.objects.filter(action=Action.PERSONAL_DATA_ERASED, object_type="export").count() == 1
