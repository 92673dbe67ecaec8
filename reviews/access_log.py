"""Who has seen a person's data (Art. 15(1)(c)): read from the audit log, as roles and days,
never names: "a caseworker, 3 March 2026".

The reads counted are the `personal_data.read` events (the API, the admin: decisions.read_log)
and the caseworker's case views (`decision.case_viewed`, on the page and through the API) of the
decision and of each human decision that replaced it. The person's own reads are not listed.
Export downloads are not attributed to the people in them: an export names no subjects in its
event, and listing them would mean reading every exported file back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Q
from django.utils import timezone

from audit.models import Action, ActorType, AuditEvent
from decisions.auth import CASEWORKER
from decisions.models import Decision
from decisions.selectors import decision_chain

MAX_LISTED = 100  # lines, newest first: a bound on the page, not on the log


@dataclass(frozen=True)
class Access:
    role: str  # decisions.read_log.READER_ROLES
    on: date


def reads_of_decisions(decision_ids: list[str]) -> Q:
    """The events that read any of these decisions: by their object, or by the list in their data
    (a decision's id is a UUID, so finding its text in the list finds that decision alone)."""
    listed = Q()
    for decision_id in decision_ids:
        listed |= Q(data__decisions__icontains=decision_id)
    return Q(object_type="decision", object_id__in=decision_ids) | (
        Q(action=Action.PERSONAL_DATA_READ) & listed
    )


def decision_accesses(decision: Decision) -> list[Access]:
    """Who read the decision, or one that replaced it, by role and day, newest first; one line
    per role and day however often it was read then."""
    ids = [str(d.pk) for d in decision_chain(decision)]
    events = (
        AuditEvent.objects.filter(reads_of_decisions(ids))
        .filter(action__in=[Action.PERSONAL_DATA_READ, Action.DECISION_CASE_VIEWED])
        .exclude(actor_type=ActorType.SUBJECT)
        .order_by("-id")
        .values_list("action", "created_at", "data")
    )
    seen: list[Access] = []
    for action, created_at, data in events.iterator():
        role = CASEWORKER if action == Action.DECISION_CASE_VIEWED else str((data or {}).get("role", ""))
        access = Access(role, timezone.localdate(created_at))
        if access not in seen:
            seen.append(access)
            if len(seen) == MAX_LISTED:
                break
    return seen
