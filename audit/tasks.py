import logging

from celery import shared_task

from .chain import checkpoint_sign

logger = logging.getLogger(__name__)


@shared_task(name="audit.sign_checkpoint", ignore_result=True)
def sign_checkpoint() -> None:
    checkpoint = checkpoint_sign()
    if checkpoint is not None:
        logger.info("audit checkpoint %s: %s events", checkpoint.pk, checkpoint.size)
