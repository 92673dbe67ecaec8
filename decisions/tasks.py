"""Celery interface of the decisions app: periodic housekeeping (config.settings CELERY_BEAT_SCHEDULE)."""

import logging

from celery import shared_task

from .idempotency import idempotency_prune

logger = logging.getLogger(__name__)


@shared_task(name="decisions.prune_idempotency_records", ignore_result=True)
def prune_idempotency_records() -> None:
    # Idempotent: a second run finds nothing older than the window left.
    deleted = idempotency_prune()
    if deleted:
        logger.info("idempotency: %s records past their replay window deleted", deleted)
