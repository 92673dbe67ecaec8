"""Export files on disk: written readable by their owner only, and deleted
EXPORT_FILE_RETENTION_DAYS after they were written.

A file export holds personal data (features, subject references) that erasure cannot reach once
it is written, so it does not outlive its use. The Export row, its hash and its signed manifest
stay; the file's deletion is recorded on the row (`file_deleted_at`) and in the audit chain, and
a download then answers 410 Gone.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import Action
from audit.services import Actor, audit_record

from .models import Export

FILE_MODE = 0o600


def export_path(export: Export) -> Path:
    return Path(settings.VAR_DIR) / "exports" / f"{export.pk}.{export.format}"


def open_private(path: Path) -> BinaryIO:
    """`path` opened for writing with mode 0600 whatever the umask, and whatever mode a file left
    there by an earlier attempt had."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, "wb")


def file_gone_message(export: Export) -> str:
    if export.file_deleted_at is None:
        return "the export file is no longer on this server"
    return (
        f"the export file was deleted on {export.file_deleted_at:%Y-%m-%d}, "
        f"{settings.EXPORT_FILE_RETENTION_DAYS} days after it was written "
        "(EXPORT_FILE_RETENTION_DAYS); its manifest remains: request a new export for the data"
    )


def export_files_delete_expired(*, now: datetime | None = None, actor: Actor | None = None) -> int:
    """Delete the files of exports finished more than EXPORT_FILE_RETENTION_DAYS ago; return how
    many. Each row is marked in its own transaction with its audit event, after the file is gone:
    a crash between the two leaves a row that the next run marks (a missing file is no error)."""
    now = now or timezone.now()
    actor = actor or Actor.system("export-retention")
    cutoff = now - timedelta(days=settings.EXPORT_FILE_RETENTION_DAYS)
    due = Export.objects.filter(
        mode=Export.Mode.FILE, status=Export.Status.DONE, file_deleted_at__isnull=True, finished_at__lt=cutoff
    ).order_by("finished_at", "id")
    deleted = 0
    for export in due.iterator():
        export_path(export).unlink(missing_ok=True)
        with transaction.atomic():
            if not Export.objects.filter(pk=export.pk, file_deleted_at__isnull=True).update(
                file_deleted_at=now
            ):
                continue  # a concurrent run marked it
            audit_record(
                actor=actor,
                action=Action.PERSONAL_DATA_ERASED,
                object_type="export",
                object_id=export.pk,
                data={"retention_days": settings.EXPORT_FILE_RETENTION_DAYS, "sha256": export.sha256},
            )
        deleted += 1
    return deleted
