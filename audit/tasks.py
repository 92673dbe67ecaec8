import logging

from celery import shared_task

from .chain import checkpoint_sign

logger = logging.getLogger(__name__)


@shared_task(name="audit.sign_checkpoint", ignore_result=True)
def sign_checkpoint() -> None:
    checkpoint = checkpoint_sign()
    if checkpoint is not None:
        logger.info("audit checkpoint %s: %s events", checkpoint.pk, checkpoint.size)


@shared_task(name="audit.run_export", acks_late=True, ignore_result=True)
def run_export(*, export_id: str) -> None:
    # acks_late is safe: the export is claimed pending -> running once, so a redelivery does nothing.
    from .exports import export_run
    from .models import Export

    if not Export.objects.filter(pk=export_id).exists():
        logger.warning("export %s is gone", export_id)
        return
    export = export_run(export_id=export_id)
    if export is not None:
        logger.info("export %s: %s rows, sha256 %s", export.pk, export.rows_written, export.sha256)


@shared_task(name="audit.sweep_exports", ignore_result=True)
def sweep_exports() -> None:
    from .exports import exports_sweep

    result = exports_sweep()
    if result["requeued"] or result["failed"]:
        logger.warning("export sweeper: %s", result)


@shared_task(name="audit.erase_expired_personal_data", ignore_result=True)
def erase_expired_personal_data() -> None:
    from .retention import retention_erase_expired

    result = retention_erase_expired()
    if result["decisions"]:
        logger.info("retention: %s", result)
