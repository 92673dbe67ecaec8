"""Celery interface of the auditor's workspace. The task names are the ones operators schedule
and monitor (docs/operators.md), kept from when these lived in `audit`."""

import logging

from celery import shared_task

from .export_files import export_files_delete_expired
from .exports import export_run, exports_sweep
from .models import Export
from .retention import retention_erase_expired

logger = logging.getLogger(__name__)


@shared_task(name="audit.run_export", acks_late=True, ignore_result=True)
def run_export(*, export_id: str) -> None:
    # acks_late is safe: the export is claimed pending -> running once, so a redelivery does nothing.
    if not Export.objects.filter(pk=export_id).exists():
        logger.warning("export %s is gone", export_id)
        return
    export = export_run(export_id=export_id)
    if export is not None:
        logger.info("export %s: %s rows, sha256 %s", export.pk, export.rows_written, export.sha256)


@shared_task(name="audit.sweep_exports", ignore_result=True)
def sweep_exports() -> None:
    result = exports_sweep()
    if result["requeued"] or result["failed"]:
        logger.warning("export sweeper: %s", result)


@shared_task(name="audit.erase_expired_personal_data", ignore_result=True)
def erase_expired_personal_data() -> None:
    result = retention_erase_expired()
    if result["decisions"]:
        logger.info("retention: %s", result)


@shared_task(name="audit.delete_expired_export_files", ignore_result=True)
def delete_expired_export_files() -> None:
    deleted = export_files_delete_expired()
    if deleted:
        logger.info("export files past EXPORT_FILE_RETENTION_DAYS deleted: %s", deleted)
