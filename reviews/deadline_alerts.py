"""Audit events that a deadline is near or was missed, for the webhooks and the alerts to read.

Two kinds of deadline:
- a review request's (Art. 12(3)): REVIEW_DEADLINE_NEAR when an open request is due within
  REVIEW_DEADLINE_NEAR_DAYS, REVIEW_DEADLINE_MISSED once it is still open past its due date;
- a referred decision's (a person must decide before it takes effect): the same two events for a
  decision still `pending_review` within REFERRAL_DEADLINE_NEAR_HOURS of `review_due_at`, or past
  it. The referral's own review request (kind `referral`) is left to this second rule, so that a
  referral is announced once, on its hours-long window rather than on the requests' days.

Each event is written once per request (or decision) and per due date. What was written already
is read back from the audit log itself: an event names its object (the `object_id` index) and
holds the due date it was about, so an extension, which moves the due date, arms a new "near".
No marker table to keep in step with the log, and the log is the record the webhooks read anyway.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from audit.models import Action, AuditEvent
from audit.services import Actor, EventSpec, audit_record_many
from decisions.models import Decision

from .models import ReviewRequest

ACTOR = Actor.system("deadlines")
NEAR, MISSED = Action.REVIEW_DEADLINE_NEAR, Action.REVIEW_DEADLINE_MISSED


def _already(object_type: str, object_ids: list[str]) -> set[tuple[str, str, str]]:
    """(action, object id, due date) of the alerts written before for these objects."""
    return set(
        AuditEvent.objects.filter(
            action__in=(NEAR, MISSED), object_type=object_type, object_id__in=object_ids
        )
        .values_list("action", "object_id", "data__due_at")
        .iterator()
    )


def _action(due_at: datetime, now: datetime) -> str:
    # Past due it is missed, whether or not "near" was ever written (beat may have been down).
    return MISSED if due_at < now else NEAR


def _alerts(
    object_type: str, due: list[tuple[str, datetime, str, str, str]], now: datetime
) -> list[EventSpec]:
    """The events not written yet for `due`: (object id, due date, reference, decision, kind)."""
    done = _already(object_type, [object_id for object_id, *_ in due])
    events = []
    for object_id, due_at, reference, decision, kind in due:
        action = _action(due_at, now)
        data = {"reference": reference, "decision": decision, "due_at": due_at.isoformat(), "kind": kind}
        if (action, object_id, data["due_at"]) not in done:
            events.append(EventSpec(ACTOR, action, object_type, object_id, data))
    return events


def _request_alerts(now: datetime) -> list[EventSpec]:
    horizon = now + timedelta(days=settings.REVIEW_DEADLINE_NEAR_DAYS)
    # Row locks skipped where held: a caseworker working the case is not held up, and a second
    # run at the same time skips the rows this one writes for (the next run sees them again).
    due = (
        ReviewRequest.objects.select_for_update(skip_locked=True)
        .filter(status__in=ReviewRequest.OPEN_STATUSES, due_at__lte=horizon)
        .exclude(kind=ReviewRequest.Kind.REFERRAL)
        .only("pk", "reference", "decision_id", "kind", "due_at")
        .order_by("pk")
    )
    rows = [(str(r.pk), r.due_at, r.reference, str(r.decision_id), r.kind) for r in due]
    return _alerts("review_request", rows, now)


def _referral_alerts(now: datetime) -> list[EventSpec]:
    horizon = now + timedelta(hours=settings.REFERRAL_DEADLINE_NEAR_HOURS)
    referral = ReviewRequest.objects.filter(
        decision_id=OuterRef("pk"), kind=ReviewRequest.Kind.REFERRAL
    ).order_by("-received_at", "-id")
    due = (
        Decision.objects.select_for_update(skip_locked=True)
        .filter(status=Decision.Status.PENDING_REVIEW, review_due_at__lte=horizon)
        .annotate(referral_reference=Subquery(referral.values("reference")[:1]))
        .only("pk", "review_due_at")
        .order_by("pk")
    )
    kind = ReviewRequest.Kind.REFERRAL.value
    rows = [(str(d.pk), d.review_due_at, d.referral_reference or "", str(d.pk), kind) for d in due]
    return _alerts("decision", rows, now)


def deadline_alerts_record(*, now: datetime | None = None) -> dict[str, int]:
    """Write the near and missed events not written yet, in one transaction (the events last).
    Returns how many of each were written."""
    now = now or timezone.now()
    with transaction.atomic():
        events = _request_alerts(now) + _referral_alerts(now)
        audit_record_many(events=events)
    return {
        "near": sum(e.action == NEAR for e in events),
        "missed": sum(e.action == MISSED for e in events),
    }
