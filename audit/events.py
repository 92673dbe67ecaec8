"""What an audit event is, and the hash that chains it to the one before.

`hash` = sha256(prev_hash || canonical JSON of the event's own fields). Whichever side computes
it (Python here, or PostgreSQL's `rationale_audit_append`, migration 0007), it hashes the same
bytes, and `verify_chain` recomputes every hash here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .models import ActorType

GENESIS_HASH = "0" * 64
# An event's columns in the order its rows are written (everything but the id).
EVENT_COLUMNS = (
    "created_at",
    "actor_type",
    "actor_id",
    "action",
    "object_type",
    "object_id",
    "data",
    "prev_hash",
    "hash",
)


@dataclass(frozen=True)
class Actor:
    type: str
    id: str = ""

    @classmethod
    def system(cls, name: str = "") -> Actor:
        return cls(ActorType.SYSTEM, name)

    @classmethod
    def user(cls, user: Any) -> Actor:
        return cls(ActorType.USER, str(user.pk))

    @classmethod
    def api_key(cls, key: Any) -> Actor:
        return cls(ActorType.API_KEY, str(key.pk))

    @classmethod
    def subject(cls, decision_id: Any) -> Actor:
        return cls(ActorType.SUBJECT, str(decision_id))


@dataclass(frozen=True)
class EventSpec:
    actor: Actor
    action: str
    object_type: str
    object_id: str
    data: dict = field(default_factory=dict)


def canonical_sha256(value: Any) -> str:
    """A commitment to `value` for an event's data: sha256 of its canonical JSON."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def event_body(
    *,
    created_at: datetime,
    actor_type: str,
    actor_id: str,
    action: str,
    object_type: str,
    object_id: str,
    data: dict,
) -> str:
    """The canonical JSON of an event's own fields: what its hash covers after prev_hash."""
    return json.dumps(
        {
            "created_at": created_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor_type": actor_type,
            "actor_id": actor_id,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "data": data,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def event_hash(*, prev_hash: str, **fields: Any) -> str:
    """sha256 over the previous hash and a canonical JSON of the event's own fields."""
    return hashlib.sha256((prev_hash + event_body(**fields)).encode()).hexdigest()


def own_fields(spec: EventSpec, now: datetime) -> dict[str, Any]:
    """An event's own fields, in EVENT_COLUMNS order (all but prev_hash and hash): what
    event_body covers, whichever side computes the hash."""
    return {
        "created_at": now,
        "actor_type": str(spec.actor.type),
        "actor_id": spec.actor.id,
        "action": str(spec.action),
        "object_type": spec.object_type,
        "object_id": spec.object_id,
        "data": spec.data,
    }


def chained(events: list[EventSpec], *, head: str, now: datetime) -> list[list]:
    """Column values (EVENT_COLUMNS order) of `events` linked, in order, onto `head`."""
    rows = []
    prev = head
    for spec in events:
        fields = own_fields(spec, now)
        digest = event_hash(prev_hash=prev, **fields)
        rows.append([*fields.values(), prev, digest])
        prev = digest
    return rows
