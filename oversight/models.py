"""The auditor's workspace keeps one record of its own: each compliance export. The table keeps
the name it had when the model lived in `audit`."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Export(models.Model):
    """One compliance export: what was asked for, its progress, and its signed manifest.

    Small exports stream straight to the browser (`mode=stream`); large ones are written to a file
    under VAR_DIR/exports by a Celery task (`mode=file`). Either way the row ends with the file's
    sha256 and an Ed25519-signed manifest that `manage.py verify_export` checks offline.
    """

    class Kind(models.TextChoices):
        DECISIONS = "decisions", "Decisions with explanations and review outcomes"
        EVENTS = "events", "Audit events"
        RECORD_OF_PROCESSING = "record_of_processing", "Art. 30 record of processing"

    class Format(models.TextChoices):
        JSONL = "jsonl", "JSON Lines"
        CSV = "csv", "CSV"

    class Mode(models.TextChoices):
        STREAM = "stream", "Streamed to the browser"
        FILE = "file", "Written to a file by a worker"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    format = models.CharField(max_length=8, choices=Format.choices)
    mode = models.CharField(max_length=8, choices=Mode.choices)
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    rows_expected = models.BigIntegerField(null=True, blank=True)
    rows_written = models.BigIntegerField(default=0)
    file_name = models.CharField(max_length=200, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    manifest = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written every few seconds by the process running the export; the sweeper re-queues (or,
    # for a stream, fails) a running export whose heartbeat stopped: its process is gone.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the file was deleted, EXPORT_FILE_RETENTION_DAYS after it was written
    # (oversight.export_files); the row and its manifest stay.
    file_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "audit_export"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="done")
                | (Q(sha256__regex=r"^[0-9a-f]{64}$") & Q(manifest__isnull=False)),
                name="export_done_has_hash_and_manifest",
            ),
        ]

    def __str__(self) -> str:
        return f"export {self.id} {self.kind}.{self.format} ({self.status})"

    @property
    def progress_percent(self) -> int | None:
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_expected:
            return None
        return min(99, int(100 * self.rows_written / self.rows_expected))
