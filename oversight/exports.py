"""Compliance exports: decisions, audit events, the Art. 30 record; streamed or written to a file,
hashed and signed.

Every export is bounded by a signed audit checkpoint taken when it starts (events up to its last
id, decisions decided before it), so what it covers is fixed and named in its manifest. A
streamed export goes straight to the browser; a file export is written by a worker
(oversight.tasks) under VAR_DIR/exports. Either way the row ends with the file's sha256 and an
Ed25519-signed manifest that `manage.py verify_export` checks offline.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from audit import signing
from audit.chain import checkpoint_sign
from audit.models import Action, Checkpoint
from audit.services import Actor, audit_record
from config.errors import ApplicationError

from . import dispatch, storage
from .export_files import export_path, open_private
from .export_filters import ExportFilters, expected_rows
from .export_lines import (
    blocks,
    decision_lines_csv,
    event_lines_csv,
    event_lines_jsonl,
    record_lines_csv,
    record_lines_jsonl,
)
from .manifest import MANIFEST_TYPE, canonical_bytes
from .models import Export

logger = logging.getLogger(__name__)

PROGRESS_SECONDS = 1.0


def export_lines(
    *, kind: str, fmt: str, filters: ExportFilters, checkpoint: Checkpoint | None, counts: dict
) -> Iterator[str]:
    """The export's text, in pieces; `counts` fills in as it goes."""
    until = checkpoint.created_at if checkpoint else None
    if kind == Export.Kind.DECISIONS:
        writer = decision_lines_csv if fmt == Export.Format.CSV else storage.decision_lines_jsonl
        return writer(filters, until, counts)
    if kind == Export.Kind.EVENTS:
        writer = event_lines_csv if fmt == Export.Format.CSV else event_lines_jsonl
        return writer(filters, checkpoint.last_event_id if checkpoint else None, counts)
    writer = record_lines_csv if fmt == Export.Format.CSV else record_lines_jsonl
    return writer(filters, counts)


def export_file_name(export: Export) -> str:
    stamp = export.created_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"rationale-{export.kind.replace('_', '-')}-{stamp}-{str(export.pk)[:8]}.{export.format}"


def export_create(*, user, kind: str, fmt: str, mode: str, filters: dict | None) -> Export:
    """Record what an auditor asked for; a file export is queued for a worker after commit."""
    errors = {}
    if kind not in Export.Kind.values:
        errors["kind"] = f"must be one of {', '.join(Export.Kind.values)}"
    if fmt not in Export.Format.values:
        errors["format"] = f"must be one of {', '.join(Export.Format.values)}"
    if mode not in Export.Mode.values:
        errors["mode"] = f"must be one of {', '.join(Export.Mode.values)}"
    if errors:
        raise ApplicationError("invalid export", fields=errors)
    parsed = ExportFilters.from_raw(filters)
    with transaction.atomic():
        export = Export.objects.create(
            requested_by=user,
            kind=kind,
            format=fmt,
            mode=mode,
            filters=parsed.to_dict(),
            rows_expected=expected_rows(kind, parsed) if mode == Export.Mode.FILE else None,
        )
        export.file_name = export_file_name(export)
        export.save(update_fields=["file_name"])
        audit_record(
            actor=Actor.user(user),
            action=Action.EXPORT_REQUESTED,
            object_type="export",
            object_id=export.pk,
            data={"kind": kind, "format": fmt, "mode": mode, "filters": export.filters},
        )
        if mode == Export.Mode.FILE:
            transaction.on_commit(partial(dispatch.run_export, export_id=export.pk))
    return export


def export_claim(*, export_id) -> Export | None:
    """pending -> running, once: a redelivered task or a second click finds nothing to do."""
    now = timezone.now()
    claimed = Export.objects.filter(pk=export_id, status=Export.Status.PENDING).update(
        status=Export.Status.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1
    )
    return Export.objects.get(pk=export_id) if claimed else None


def _checkpoint_for_export() -> Checkpoint | None:
    # A fresh checkpoint covers everything up to now (the export's own request event included).
    return checkpoint_sign() or Checkpoint.objects.order_by("-last_event_id").first()


def checkpoint_body(checkpoint: Checkpoint | None) -> dict | None:
    if checkpoint is None:
        return None
    return {
        "size": checkpoint.size,
        "last_event_id": checkpoint.last_event_id,
        "head_hash": checkpoint.head_hash,
        "created_at": checkpoint.created_at.isoformat(timespec="microseconds"),
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
    }


class _Hashing:
    """Counts and hashes the bytes on their way out."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def feed(self, pieces: Iterable[str | bytes]) -> Iterator[bytes]:
        encoded = (piece if isinstance(piece, bytes) else piece.encode() for piece in pieces if piece)
        for block, _ in blocks(encoded):
            self.digest.update(block)
            self.size += len(block)
            yield block


def export_stream(*, export: Export) -> Iterator[bytes]:
    """Bytes of a streamed export; when the last byte is out, its manifest is signed.

    A client that goes away mid-stream leaves a failed export, never a manifest for a partial file.
    """
    claimed = export_claim(export_id=export.pk)
    if claimed is None:
        return
    checkpoint = _checkpoint_for_export()
    counts: dict = {}
    hashing = _Hashing()
    finished = False
    try:
        lines = export_lines(
            kind=claimed.kind,
            fmt=claimed.format,
            filters=ExportFilters.from_raw(claimed.filters),
            checkpoint=checkpoint,
            counts=counts,
        )
        with _Heartbeat(claimed.pk, counts):
            yield from hashing.feed(lines)
        export_finish(
            export=claimed,
            sha256=hashing.digest.hexdigest(),
            size=hashing.size,
            counts=counts,
            checkpoint=checkpoint,
        )
        finished = True
    finally:
        if not finished:
            export_fail(
                export_id=claimed.pk,
                reason="the stream stopped before the end (client disconnected or error)",
            )


def export_run(*, export_id) -> Export | None:
    """Write a file export under VAR_DIR/exports, with progress on the row; then sign its manifest."""
    export = export_claim(export_id=export_id)
    if export is None:
        return None
    path = export_path(export)
    partial = path.with_suffix(path.suffix + ".part")
    checkpoint = _checkpoint_for_export()
    counts: dict = {}
    hashing = _Hashing()
    try:
        lines = export_lines(
            kind=export.kind,
            fmt=export.format,
            filters=ExportFilters.from_raw(export.filters),
            checkpoint=checkpoint,
            counts=counts,
        )
        # 0600 from the first byte; os.replace keeps the mode.
        with open_private(partial) as handle, _Heartbeat(export.pk, counts):
            for block in hashing.feed(lines):
                handle.write(block)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        export_fail(export_id=export.pk, reason=f"{type(exc).__name__}: {exc}")
        raise
    return export_finish(
        export=export,
        sha256=hashing.digest.hexdigest(),
        size=hashing.size,
        counts=counts,
        checkpoint=checkpoint,
    )


class _Heartbeat:
    """While an export runs, a thread writes its heartbeat and the rows written so far every
    PROGRESS_SECONDS, for the page's progress bar and for the sweeper.

    A thread, with its own database connection (Django's are per thread): the export's own
    connection may be inside a long read-only COPY, and the sort before the first row of a large
    export can take minutes with no row to count.
    """

    def __init__(self, export_id, counts: dict) -> None:
        self.export_id, self.counts = export_id, counts
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="export-heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self.stop.wait(PROGRESS_SECONDS):
                Export.objects.filter(pk=self.export_id, status=Export.Status.RUNNING).update(
                    heartbeat_at=timezone.now(), rows_written=self.counts.get("rows", 0)
                )
        except Exception:  # noqa: BLE001 - a missed heartbeat is the sweeper's business, not the export's
            logger.exception("export %s: heartbeat stopped", self.export_id)
        finally:
            connection.close()  # this thread's own connection

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def exports_sweep() -> dict:
    """Running exports whose heartbeat stopped (their process died): a file export goes back to
    the queue (writing it again is idempotent) until EXPORT_MAX_ATTEMPTS; a streamed one, whose
    client is gone with the process, fails."""
    stale = timezone.now() - timedelta(seconds=settings.EXPORT_STALE_SECONDS)
    requeued = failed = 0
    for export in Export.objects.filter(status=Export.Status.RUNNING, heartbeat_at__lt=stale):
        if export.mode == Export.Mode.FILE and export.attempts < settings.EXPORT_MAX_ATTEMPTS:
            back = Export.objects.filter(
                pk=export.pk, status=Export.Status.RUNNING, attempts=export.attempts, heartbeat_at__lt=stale
            ).update(status=Export.Status.PENDING)
            if back:
                requeued += 1
                transaction.on_commit(partial(dispatch.run_export, export_id=export.pk))
            continue
        why = "the stream's process stopped" if export.mode == Export.Mode.STREAM else "its worker was lost"
        export_fail(
            export_id=export.pk,
            reason=f"no heartbeat for {settings.EXPORT_STALE_SECONDS} s after {export.attempts} attempt(s): {why}",
        )
        failed += 1
    return {"requeued": requeued, "failed": failed}


def export_manifest(
    *, export: Export, sha256: str, size: int, counts: dict, checkpoint: Checkpoint | None
) -> dict:
    manifest = {
        "type": MANIFEST_TYPE,
        "export_id": str(export.pk),
        "kind": export.kind,
        "format": export.format,
        "file_name": export.file_name,
        "filters": export.filters,
        "requested_by": str(export.requested_by_id) if export.requested_by_id else None,
        "requested_at": export.created_at.isoformat(timespec="microseconds"),
        "finished_at": timezone.now().isoformat(timespec="microseconds"),
        "rows": counts.get("rows", 0),
        "counts": {k: v for k, v in counts.items() if k != "rows"},
        "sha256": sha256,
        "size_bytes": size,
        "checkpoint": checkpoint_body(checkpoint),
        "covers": (
            "decisions decided up to the checkpoint's time"
            if export.kind == Export.Kind.DECISIONS
            else "audit events up to the checkpoint's last event"
            if export.kind == Export.Kind.EVENTS
            else "the model registry when the export ran"
        ),
        "key_id": signing.key_id(),
        "public_key_url": "/api/v1/audit/public-key",
    }
    manifest["signature"] = signing.sign(canonical_bytes(manifest))
    return manifest


def export_finish(
    *, export: Export, sha256: str, size: int, counts: dict, checkpoint: Checkpoint | None
) -> Export:
    manifest = export_manifest(export=export, sha256=sha256, size=size, counts=counts, checkpoint=checkpoint)
    with transaction.atomic():
        export.status = Export.Status.DONE
        export.sha256 = sha256
        export.size_bytes = size
        export.rows_written = counts.get("rows", 0)
        export.manifest = manifest
        export.finished_at = timezone.now()
        # Only the attempt that still holds the claim finishes it (the sweeper may have handed a
        # silent one back to the queue; the attempt it started writes the same file again).
        ours = Export.objects.filter(pk=export.pk, status=Export.Status.RUNNING, attempts=export.attempts)
        if not ours.update(
            status=export.status,
            sha256=sha256,
            size_bytes=size,
            rows_written=export.rows_written,
            manifest=manifest,
            finished_at=export.finished_at,
        ):
            logger.warning("export %s: finished by an attempt that no longer holds it", export.pk)
            return Export.objects.get(pk=export.pk)
        audit_record(
            actor=Actor.system("exports"),
            action=Action.EXPORT_COMPLETED,
            object_type="export",
            object_id=export.pk,
            data={"sha256": sha256, "rows": export.rows_written, "manifest_signature": manifest["signature"]},
        )
    return export


def export_fail(*, export_id, reason: str) -> None:
    with transaction.atomic():
        failed = Export.objects.filter(pk=export_id, status=Export.Status.RUNNING).update(
            status=Export.Status.FAILED, error=reason[:2000], finished_at=timezone.now()
        )
        if failed:
            audit_record(
                actor=Actor.system("exports"),
                action=Action.EXPORT_FAILED,
                object_type="export",
                object_id=export_id,
                data={"reason": reason[:200]},
            )


def export_record_download(*, export: Export, user) -> None:
    """Who took the record away, and when (accountability for the auditors themselves)."""
    audit_record(
        actor=Actor.user(user),
        action=Action.EXPORT_DOWNLOADED,
        object_type="export",
        object_id=export.pk,
        data={"sha256": export.sha256},
    )
