"""Celery interface of the Article 22 workflow: the periodic deadline alerts, run by beat."""

import logging

from celery import shared_task

from .deadline_alerts import deadline_alerts_record

logger = logging.getLogger(__name__)


# acks_late is safe: the service writes only the alerts not in the audit log yet, so a redelivery
# writes nothing twice.
@shared_task(name="reviews.deadline_alerts", acks_late=True, ignore_result=True)
def deadline_alerts() -> dict:
    result = deadline_alerts_record()
    if result["near"] or result["missed"]:
        logger.info("deadline alerts: %s", result)
    return result
