"""Celery interface of webhooks: the dispatcher, the sender and the sweep (beat runs the first
and the last; config/settings/workers.py)."""

import logging

from celery import shared_task
from django.conf import settings

from .delivery import deliveries_due, webhooks_deliver
from .dispatch import DELIVER_TASK, publish_deliveries, webhooks_dispatch

logger = logging.getLogger(__name__)


@shared_task(name="webhooks.dispatch", ignore_result=True)
def dispatch() -> dict:
    """New audit events -> deliveries. Safe to run at once in several processes: the cursor's row
    lock makes them take turns."""
    return webhooks_dispatch(limit=settings.WEBHOOK_DISPATCH_BATCH)


@shared_task(
    name=DELIVER_TASK,
    # Safe: claims are conditional and results are written only under the claim, so a task
    # delivered again sends nothing twice except what its crashed first run left unrecorded.
    acks_late=True,
    ignore_result=True,
)
def deliver() -> dict:
    result = webhooks_deliver(limit=settings.WEBHOOK_DELIVERY_BATCH, on_full_batch=publish_deliveries)
    if result["sent"]:
        logger.info("webhooks: %s", result)
    return result


@shared_task(name="webhooks.sweep", ignore_result=True)
def sweep() -> bool:
    """Publish a delivery task when a retry is due or a claim went stale."""
    due = deliveries_due()
    if due:
        publish_deliveries()
    return due
