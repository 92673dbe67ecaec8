"""Who read a person's data: one `personal_data.read` event per request that returned decisions
(the API, the admin), naming the reader's role, the purpose and the decisions' ids, never a value
of the person's. The subject's page answers "who has seen my data" from these events
(reviews.access_log); the caseworker's case page has its own event, `decision.case_viewed`."""

from __future__ import annotations

from collections.abc import Iterable

from audit.models import Action, AuditEvent
from audit.services import Actor, audit_record

from .auth import AUDITOR, CASEWORKER
from .models import ApiKey

INTEGRATION = "integration"  # the controller's own system, by its API key
ADMINISTRATOR = "administrator"  # the Django admin, or staff without a caseworker or auditor role
READER_ROLES = (INTEGRATION, CASEWORKER, AUDITOR, ADMINISTRATOR)

API = "api"
CASE_REVIEW = "case_review"
ADMINISTRATION = "administration"


def reader_role(request) -> str:
    """The role a request reads in: its API key's, or the signed-in person's (an auditor's first,
    as auditors read for oversight whatever other role they hold)."""
    if isinstance(getattr(request, "auth", None), ApiKey):
        return INTEGRATION
    roles = set(request.user.groups.values_list("name", flat=True))
    return next((role for role in (AUDITOR, CASEWORKER) if role in roles), ADMINISTRATOR)


def personal_data_read(*, actor: Actor, role: str, purpose: str, decision_ids: Iterable) -> AuditEvent | None:
    """Record one read of these decisions (nothing when there were none). A single decision is the
    event's object; a list is a `decision_list` object with the count, the ids in the data."""
    ids = [str(i) for i in decision_ids]
    if not ids:
        return None
    object_type, object_id = ("decision", ids[0]) if len(ids) == 1 else ("decision_list", len(ids))
    return audit_record(
        actor=actor,
        action=Action.PERSONAL_DATA_READ,
        object_type=object_type,
        object_id=object_id,
        data={"role": role, "purpose": purpose, "decisions": ids},
    )
