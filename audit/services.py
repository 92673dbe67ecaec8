"""The one service every write calls to leave its audit event.

Callers write their audit event LAST in their transaction: the chain lock (audit.storage) is
then held only from this insert to the commit, a fraction of a millisecond, which keeps every
event linked to the one before without slowing the writers that share the chain.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from . import storage
from .events import EVENT_COLUMNS, Actor, EventSpec, canonical_sha256, chained
from .models import AuditEvent

__all__ = ["Actor", "EventSpec", "audit_record", "audit_record_many", "canonical_sha256"]


def audit_record(
    *, actor: Actor, action: str, object_type: str, object_id: Any, data: dict | None = None
) -> AuditEvent:
    """Append one event and return it. Call it last in the caller's transaction."""
    # No savepoint: the event belongs to the caller's transaction and fails with it.
    with transaction.atomic(savepoint=False):
        spec = EventSpec(actor, action, object_type, str(object_id), data or {})
        [row] = chained([spec], head=storage.chain_head_locked(), now=timezone.now())
        event = AuditEvent(**dict(zip(EVENT_COLUMNS, row, strict=True)))
        event.save(force_insert=True)
    return event


def audit_record_many(*, events: list[EventSpec]) -> int:
    """Append events in order under one lock acquisition (bulk ingest, a worker's batch)."""
    if events:
        storage.events_append(events, now=timezone.now())
    return len(events)
