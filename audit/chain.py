"""Verifying the chain and signing checkpoints of it."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from . import signing
from .events import EVENT_COLUMNS, GENESIS_HASH, event_hash
from .models import AuditEvent, Checkpoint
from .storage import chain_head_locked

_FIELDS = ("id", *EVENT_COLUMNS)


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    head_hash: str
    first_bad_event_id: int | None = None
    reason: str = ""
    checkpoint: Checkpoint | None = None

    def describe(self) -> str:
        if self.ok:
            where = f", last checkpoint at event {self.checkpoint.last_event_id}" if self.checkpoint else ""
            return f"audit chain intact: {self.checked} events{where}"
        return f"audit chain BROKEN at event {self.first_bad_event_id}: {self.reason}"


def checkpoint_message(*, size: int, last_event_id: int, head_hash: str, created_at) -> bytes:
    return (
        f"rationale-audit-checkpoint/v1\n{size}\n{last_event_id}\n{head_hash}\n"
        f"{created_at.isoformat(timespec='microseconds')}"
    ).encode()


def checkpoint_sign() -> Checkpoint | None:
    """Sign the current head; None when nothing was appended since the last checkpoint."""
    with transaction.atomic():
        # Under the chain lock no event can be appended between reading the head and counting.
        head = chain_head_locked()
        last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
        if last is None or Checkpoint.objects.filter(last_event_id=last).exists():
            return None
        size = AuditEvent.objects.count()
        now = timezone.now()
        message = checkpoint_message(size=size, last_event_id=last, head_hash=head, created_at=now)
        return Checkpoint.objects.create(
            created_at=now,
            last_event_id=last,
            size=size,
            head_hash=head,
            key_id=signing.key_id(),
            signature=signing.sign(message),
        )


def verify_chain() -> Verification:
    """Recompute every link in id order, then check the signed checkpoints against it.

    Streams the table, so memory stays flat however long the log is. An edited event fails its
    own hash; a deleted, inserted or reordered one breaks the next link; a deleted tail, which
    leaves a shorter but self-consistent chain, fails the last checkpoint that covered it.
    """
    checkpoints = {c.last_event_id: c for c in Checkpoint.objects.all()}
    prev = GENESIS_HASH
    count = 0
    seen_checkpoints: list[Checkpoint] = []
    rows = AuditEvent.objects.order_by("id").values_list(*_FIELDS).iterator(chunk_size=5000)
    for row in rows:
        event = dict(zip(_FIELDS, row, strict=True))
        count += 1
        if event["prev_hash"] != prev:
            return Verification(
                False,
                count,
                prev,
                event["id"],
                "does not link to the event before it (an event was deleted, inserted or reordered)",
            )
        expected = event_hash(
            prev_hash=prev,
            created_at=event["created_at"],
            actor_type=event["actor_type"],
            actor_id=event["actor_id"],
            action=event["action"],
            object_type=event["object_type"],
            object_id=event["object_id"],
            data=event["data"],
        )
        if expected != event["hash"]:
            return Verification(
                False, count, prev, event["id"], "content does not match its hash (the event was edited)"
            )
        prev = event["hash"]
        checkpoint = checkpoints.pop(event["id"], None)
        if checkpoint is not None:
            problem = _checkpoint_problem(checkpoint, size=count, head_hash=prev)
            if problem:
                return Verification(False, count, prev, event["id"], problem)
            seen_checkpoints.append(checkpoint)
    if checkpoints:
        # A signed checkpoint names an event that no longer exists: the tail was cut.
        missing = min(checkpoints)
        return Verification(
            False, count, prev, missing, "covered by a signed checkpoint but missing (events were deleted)"
        )
    latest = seen_checkpoints[-1] if seen_checkpoints else None
    return Verification(True, count, prev, checkpoint=latest)


def _checkpoint_problem(checkpoint: Checkpoint, *, size: int, head_hash: str) -> str:
    message = checkpoint_message(
        size=checkpoint.size,
        last_event_id=checkpoint.last_event_id,
        head_hash=checkpoint.head_hash,
        created_at=checkpoint.created_at,
    )
    if not signing.verify(message, checkpoint.signature):
        return f"checkpoint {checkpoint.pk} has an invalid signature"
    if checkpoint.head_hash != head_hash:
        return f"differs from signed checkpoint {checkpoint.pk}"
    if checkpoint.size != size:
        return f"signed checkpoint {checkpoint.pk} counted {checkpoint.size} events up to here, found {size}"
    return ""
