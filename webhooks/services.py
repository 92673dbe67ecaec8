"""Writes of the webhook API: register, change, disable an endpoint, rotate its secret, replay
deliveries. Each in one transaction with its audit event last; no secret reaches an event."""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import Action
from audit.services import Actor, EventSpec, audit_record, audit_record_many
from config.errors import ApplicationError
from decisions.models import ApiKey

from .catalogue import EVENT_TYPES
from .destinations import DestinationRefused, destination_check
from .dispatch import cursor_hold, publish_deliveries
from .models import Delivery, Endpoint

MAX_URL_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 200


def secret_new() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _clean_url(url: Any) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ApplicationError("invalid url", fields={"url": "required: the https URL to POST events to"})
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise ApplicationError("invalid url", fields={"url": f"at most {MAX_URL_LENGTH} characters"})
    try:
        destination_check(url)
    except DestinationRefused as exc:
        raise ApplicationError("webhook URL refused", fields={"url": str(exc)}) from None
    return url


def _clean_event_types(event_types: Any) -> list[str]:
    if (
        not isinstance(event_types, list)
        or not event_types
        or not all(isinstance(t, str) for t in event_types)
    ):
        raise ApplicationError(
            "invalid event_types",
            fields={"event_types": "a non-empty list of event types (GET /api/v1/webhooks/event-types/)"},
        )
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise ApplicationError(
            "invalid event_types", fields={"event_types": f"unknown event types: {', '.join(unknown)}"}
        )
    return sorted(set(event_types))


def _clean_description(description: Any) -> str:
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_LENGTH:
        raise ApplicationError(
            "invalid description",
            fields={"description": f"text of at most {MAX_DESCRIPTION_LENGTH} characters"},
        )
    return description.strip()


def endpoint_create(
    *, api_key: ApiKey, url: Any, event_types: Any, description: Any = "", actor: Actor
) -> tuple[Endpoint, str]:
    """Register an endpoint; returns it and its secret, which is shown this once."""
    endpoint = Endpoint(
        api_key=api_key,
        url=_clean_url(url),
        event_types=_clean_event_types(event_types),
        description=_clean_description(description),
        secret=secret_new(),
    )
    with transaction.atomic():
        # Events from now on reach it: the dispatcher's cursor exists, and waits for this commit.
        cursor_hold()
        endpoint.save(force_insert=True)
        audit_record(
            actor=actor,
            action=Action.WEBHOOK_ENDPOINT_CREATED,
            object_type="webhook_endpoint",
            object_id=endpoint.pk,
            data={"event_types": endpoint.event_types},
        )
    return endpoint, endpoint.secret


def endpoint_update(*, endpoint: Endpoint, changes: dict[str, Any], actor: Actor) -> Endpoint:
    """Change the url, event types, description or enabled flag (only those given)."""
    cleaners = {"url": _clean_url, "event_types": _clean_event_types, "description": _clean_description}
    clean = {name: cleaners[name](value) for name, value in changes.items() if name in cleaners}
    if "enabled" in changes:
        if not isinstance(changes["enabled"], bool):
            raise ApplicationError("invalid enabled", fields={"enabled": "true or false"})
        clean["enabled"] = changes["enabled"]
    with transaction.atomic():
        if clean.get("enabled"):
            cursor_hold()  # as when registering: no dispatch between its check and this commit
        endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        changed = sorted(name for name, value in clean.items() if getattr(endpoint, name) != value)
        if not changed:
            return endpoint
        for name in changed:
            setattr(endpoint, name, clean[name])
        endpoint.save(update_fields=[*changed, "updated_at"])
        # The URL is the controller's own address, not personal data; kept out all the same.
        audit_record(
            actor=actor,
            action=Action.WEBHOOK_ENDPOINT_CHANGED,
            object_type="webhook_endpoint",
            object_id=endpoint.pk,
            data={"changed": changed, "enabled": endpoint.enabled, "event_types": endpoint.event_types},
        )
    return endpoint


def endpoint_rotate_secret(*, endpoint: Endpoint, actor: Actor) -> tuple[Endpoint, str]:
    """A new secret, returned this once; the current one keeps signing beside it for
    WEBHOOK_SECRET_OVERLAP_HOURS, so the receiver can switch without losing a message."""
    now = timezone.now()
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS)
        endpoint.secret = secret_new()
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
        audit_record(
            actor=actor,
            action=Action.WEBHOOK_SECRET_ROTATED,
            object_type="webhook_endpoint",
            object_id=endpoint.pk,
            data={"previous_valid_until": endpoint.previous_secret_expires_at.isoformat()},
        )
    return endpoint, endpoint.secret


def deliveries_replay(*, endpoint: Endpoint, delivery_ids: list[int] | None, actor: Actor) -> int:
    """Send again: one delivery (any state but one waiting to be sent), or every dead one of the
    endpoint (`delivery_ids` None). Pending again, with a fresh budget of attempts."""
    with transaction.atomic():
        rows = Delivery.objects.select_for_update().filter(endpoint=endpoint)
        if delivery_ids is None:
            rows = rows.filter(status=Delivery.Status.DEAD)
        else:
            rows = rows.filter(id__in=delivery_ids).exclude(status__in=Delivery.DUE_STATUSES)
        replayed = list(rows)
        now = timezone.now()
        for d in replayed:
            d.status, d.attempts, d.replays = Delivery.Status.PENDING, 0, d.replays + 1
            d.next_attempt_at, d.delivered_at, d.claim, d.claimed_at = now, None, "", None
            d.updated_at = now  # bulk_update does not touch auto_now fields
        Delivery.objects.bulk_update(
            replayed,
            [
                "status",
                "attempts",
                "replays",
                "next_attempt_at",
                "delivered_at",
                "claim",
                "claimed_at",
                "updated_at",
            ],
        )
        audit_record_many(
            events=[
                EventSpec(
                    actor,
                    Action.WEBHOOK_REPLAYED,
                    "webhook_delivery",
                    str(d.pk),
                    {"delivery": d.pk, "endpoint": endpoint.pk, "replay": d.replays},
                )
                for d in replayed
            ]
        )
        if replayed:
            transaction.on_commit(publish_deliveries)
    return len(replayed)
