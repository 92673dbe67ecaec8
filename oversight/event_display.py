"""An audit event as an auditor reads it: its action, actor and object in words, and its data as
labelled fields (a definition list), whole: nothing truncated, nested values as nested fields.

Plain formatting over values the selectors looked up (names of users, API keys, model versions);
no database access here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.models import Action, ActorType

# The data keys events carry, in words. Any other key is shown as its name in words.
KEY_LABELS = {
    "actions": gettext_lazy("Event kinds"),
    "additivity_error": gettext_lazy("Additivity error"),
    "artifact_sha256": gettext_lazy("Artifact sha256"),
    "background_sha256": gettext_lazy("Background data sha256"),
    "base_value": gettext_lazy("Base value"),
    "count": gettext_lazy("Count"),
    "cutoff": gettext_lazy("Cut-off"),
    "decision": gettext_lazy("Decision"),
    "date_from": gettext_lazy("From"),
    "date_to": gettext_lazy("Before"),
    "decisions": gettext_lazy("Decisions"),
    "default": gettext_lazy("Default version"),
    "device": gettext_lazy("Device"),
    "due_at": gettext_lazy("Due"),
    "explanations": gettext_lazy("Explanations"),
    "features_commitment": gettext_lazy("Inputs commitment (keyed)"),
    "features_sha256": gettext_lazy("Inputs sha256"),
    "filters": gettext_lazy("Filters"),
    "format": gettext_lazy("Format"),
    "framework": gettext_lazy("Framework"),
    "from": gettext_lazy("From"),
    "grounds": gettext_lazy("Grounds"),
    "identical": gettext_lazy("Identical"),
    "kind": gettext_lazy("Kind"),
    "manifest_signature": gettext_lazy("Manifest signature"),
    "max_abs_difference": gettext_lazy("Largest difference"),
    "method": gettext_lazy("Method"),
    "mode": gettext_lazy("Mode"),
    "model": gettext_lazy("Model"),
    "model_sha256": gettext_lazy("Model sha256"),
    "model_version": gettext_lazy("Model version"),
    "months": gettext_lazy("Months"),
    "outcome": gettext_lazy("Outcome"),
    "page": gettext_lazy("Page"),
    "passed": gettext_lazy("Passed"),
    "prefix": gettext_lazy("Key prefix"),
    "previous_default": gettext_lazy("Previous default version"),
    "previous_due_at": gettext_lazy("Previously due"),
    "reason": gettext_lazy("Reason"),
    "reasons": gettext_lazy("Reasons"),
    "reference": gettext_lazy("Reference"),
    "retention_days": gettext_lazy("Retention (days)"),
    "review_requests": gettext_lazy("Review requests"),
    "role": gettext_lazy("Role"),
    "rows": gettext_lazy("Rows"),
    "schema_sha256": gettext_lazy("Schema sha256"),
    "score": gettext_lazy("Score"),
    "sha256": gettext_lazy("sha256"),
    "shadow": gettext_lazy("Shadow run"),
    "statement_sha256": gettext_lazy("Statement sha256"),
    "statement_commitment": gettext_lazy("Statement commitment (keyed)"),
    "status": gettext_lazy("Status"),
    "supersedes": gettext_lazy("Replaces decision"),
    "to": gettext_lazy("To"),
    "version": gettext_lazy("Version"),
    "via": gettext_lazy("Via"),
}
OBJECT_LABELS = {
    "api_key": gettext_lazy("API key"),
    "decision": gettext_lazy("Decision"),
    "explanation": gettext_lazy("Explanation"),
    "export": gettext_lazy("Export"),
    "model_version": gettext_lazy("Model version"),
    "review_request": gettext_lazy("Review request"),
    "user": gettext_lazy("User"),
}
ROLE_LABELS = {
    "caseworker": gettext_lazy("caseworker"),
    "auditor": gettext_lazy("auditor"),
    "administrator": gettext_lazy("administrator"),
    "": gettext_lazy("no role"),
}
MAX_DEPTH = 3  # nested fields shown as such; deeper, as text


@dataclass(frozen=True)
class Field:
    label: str
    value: str = ""
    children: list[Field] = field(default_factory=list)  # a nested object or a list of objects


@dataclass(frozen=True)
class Entry:
    event: Any  # the AuditEvent
    action: str
    actor: str
    object: str
    fields: list[Field]


@dataclass(frozen=True)
class Names:
    """What the selectors looked up for a page of events."""

    users: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (username, role)
    api_keys: dict[str, str] = field(default_factory=dict)  # id -> name
    model_versions: dict[str, str] = field(default_factory=dict)  # id -> "model@version"


def key_label(key: str) -> str:
    label = KEY_LABELS.get(key)
    return str(label) if label else key.replace("_", " ").capitalize()


def actor_text(actor_type: str, actor_id: str, names: Names) -> str:
    if actor_type == ActorType.USER:
        found = names.users.get(actor_id)
        if found is None:
            return _("user #%(id)s (no longer exists)") % {"id": actor_id}
        username, role = found
        return _("%(username)s (%(role)s)") % {"username": username, "role": ROLE_LABELS.get(role, role)}
    if actor_type == ActorType.API_KEY:
        name = names.api_keys.get(actor_id)
        if name is None:
            return _("API key #%(id)s (no longer exists)") % {"id": actor_id}
        return _("API key “%(name)s”") % {"name": name}
    if actor_type == ActorType.SUBJECT:
        return _("the data subject of decision %(id)s") % {"id": actor_id}
    if actor_type == ActorType.SYSTEM:
        return _("system: %(name)s") % {"name": actor_id} if actor_id else _("system")
    return f"{actor_type} {actor_id}".strip()


def object_text(object_type: str, object_id: str, names: Names) -> str:
    label = OBJECT_LABELS.get(object_type)
    kind = str(label) if label else object_type.replace("_", " ").capitalize()
    if object_type == "model_version" and object_id in names.model_versions:
        return f"{kind} {names.model_versions[object_id]}"
    if object_type == "user" and object_id in names.users:
        return f"{kind} {names.users[object_id][0]}"
    if object_type == "api_key" and object_id in names.api_keys:
        return f"{kind} “{names.api_keys[object_id]}”"
    return f"{kind} {object_id}"


def value_text(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return ", ".join(value_text(v) for v in value) or "–"
    if isinstance(value, dict):  # nested deeper than the page shows as fields
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def fields_of(data: Any, names: Names, depth: int = 0) -> list[Field]:
    """An event's data as labelled fields, in the order it was written."""
    if not isinstance(data, dict):
        return [Field(_("Data"), value_text(data))] if data not in (None, "", [], {}) else []
    out = []
    for key, value in data.items():
        label = key_label(str(key))
        if isinstance(value, dict) and depth < MAX_DEPTH:
            out.append(Field(label, children=fields_of(value, names, depth + 1)))
        elif (
            isinstance(value, list)
            and value
            and all(isinstance(v, dict) for v in value)
            and depth < MAX_DEPTH
        ):
            children = [
                Field(f"{i}", children=fields_of(v, names, depth + 1)) for i, v in enumerate(value, start=1)
            ]
            out.append(Field(label, children=children))
        elif key == "model_version" and depth == 0 and str(value) in names.model_versions:
            out.append(Field(label, names.model_versions[str(value)]))
        elif key == "role":
            out.append(Field(label, str(ROLE_LABELS.get(str(value), value))))
        else:
            out.append(Field(label, value_text(value)))
    return out


def entry_of(event, names: Names) -> Entry:
    try:
        action = str(Action(event.action).label)
    except ValueError:
        action = event.action
    return Entry(
        event=event,
        action=action,
        actor=actor_text(event.actor_type, event.actor_id, names),
        object=object_text(event.object_type, event.object_id, names),
        fields=fields_of(event.data, names),
    )
