"""The dispatcher: new audit events -> deliveries to the endpoints subscribed to them.

The audit log is the outbox. Each business event a webhook carries has its audit event, written
in the transaction of the change, so the recording path pays nothing for webhooks; the
dispatcher tails AuditEvent by id after a stored cursor.

Why a cursor misses nothing: ids become visible in id order. Every append takes the chain's
transaction-scoped advisory lock BEFORE its rows take ids from the sequence (audit.storage's
`chain_head_locked` and the PostgreSQL functions of audit migrations 0005 and 0007, including
the one-statement ingest path, explanations.storage.record_decisions_in_one_statement, which
calls `rationale_audit_append` and so inserts its events only inside the lock), and holds it to
its commit. PostgreSQL makes a commit visible before it releases the transaction's locks, so
the next holder's ids, all larger, commit after the previous ones are visible; a snapshot that
sees id n sees every committed id below n. A rolled-back append leaves a gap, never a late id.
SQLite serialises writers as a whole. tests/webhooks/test_dispatch.py holds this for concurrent
writers.
"""

from __future__ import annotations

import logging

from celery import current_app
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audit.models import AuditEvent

from .models import Delivery, DispatchCursor, Endpoint
from .payloads import AuditRow, webhook_events

logger = logging.getLogger(__name__)

DELIVER_TASK = "webhooks.deliver"
_AUDIT_COLUMNS = ("id", "created_at", "action", "object_type", "object_id", "data")


def cursor_hold() -> None:
    """Lock the dispatcher's cursor for the caller's transaction, creating it at the log's head if
    there is none (an install starts from now, not with a flood of history). Registering or
    enabling an endpoint holds it, so no dispatch runs between its check for endpoints and its
    commit: every event it skipped for want of one is older than the endpoint."""
    if not DispatchCursor.objects.select_for_update().filter(pk=1).values_list("pk"):
        head = AuditEvent.objects.aggregate(head=Max("id"))["head"] or 0
        DispatchCursor.objects.get_or_create(pk=1, defaults={"last_event_id": head})


def publish_deliveries() -> None:
    """Ask a worker to send what is due (a task by name: this module never imports the tasks)."""
    try:
        current_app.send_task(DELIVER_TASK, kwargs={}, retry=False)
    except Exception as exc:  # noqa: BLE001 - the broker is down: the sweep publishes later
        logger.warning("could not publish a delivery task (%s); the sweep will", type(exc).__name__)


def webhooks_dispatch_once(*, limit: int) -> tuple[int, int]:
    """Turn up to `limit` audit events past the cursor into deliveries; advance the cursor.
    Returns (events read, deliveries created). One transaction, holding the cursor's row lock:
    dispatchers running at once take turns, and a second read of an event creates nothing (the
    unique (endpoint, audit event) constraint)."""
    with transaction.atomic():
        cursor = DispatchCursor.objects.select_for_update().filter(pk=1).first()
        if cursor is None:  # no endpoint was ever registered
            return 0, 0
        rows = [
            AuditRow(*values)
            for values in AuditEvent.objects.filter(id__gt=cursor.last_event_id)
            .order_by("id")
            .values_list(*_AUDIT_COLUMNS)[:limit]
        ]
        if not rows:
            return 0, 0
        # Nobody subscribed (cursor_hold makes this check safe): skip reading what they are about.
        anyone = Endpoint.objects.filter(enabled=True).exists()
        created = _deliveries_create(webhook_events(rows)) if anyone else 0
        DispatchCursor.objects.filter(pk=1).update(last_event_id=rows[-1].id, updated_at=timezone.now())
        if created:
            transaction.on_commit(publish_deliveries)
    return len(rows), created


def _deliveries_create(events) -> int:
    if not events:
        return 0
    endpoints: dict[int, list[Endpoint]] = {}
    subscribed = Endpoint.objects.filter(
        api_key_id__in={e.api_key_id for e in events}, enabled=True, api_key__revoked_at__isnull=True
    )
    for endpoint in subscribed:
        endpoints.setdefault(endpoint.api_key_id, []).append(endpoint)
    now = timezone.now()
    deliveries = [
        Delivery(
            endpoint=endpoint,
            audit_event_id=event.audit_event_id,
            event_type=event.event_type,
            payload=event.payload,
            next_attempt_at=now,
        )
        for event in events
        for endpoint in endpoints.get(event.api_key_id, [])
        # Only what happened after the endpoint was registered.
        if event.event_type in endpoint.event_types and event.created_at >= endpoint.created_at
    ]
    Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    return len(deliveries)


def webhooks_dispatch(*, limit: int, rounds: int = 20) -> dict:
    """Dispatch until caught up (or `rounds` batches: the next beat tick goes on)."""
    events = deliveries = 0
    for _ in range(rounds):
        read, created = webhooks_dispatch_once(limit=limit)
        events += read
        deliveries += created
        if read < limit:
            break
    return {"events": events, "deliveries": deliveries}
