"""Sending deliveries: claim a batch of due ones, POST each signed by the Standard Webhooks
scheme, record every attempt (a row and an audit event) and what comes next.

At least once, and each attempt recorded once: a batch is claimed with a conditional UPDATE
(SKIP LOCKED where there are row locks) holding a token, results are written only to rows still
holding that token, and a claim older than WEBHOOK_CLAIM_STALE_SECONDS (its worker died) can be
claimed again. A receiver may therefore see a message twice after a crash; it has the same
`webhook-id`, as the specification expects receivers to deduplicate on.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from standardwebhooks import Webhook

from audit.models import Action
from audit.services import Actor, EventSpec, audit_record_many

from .destinations import DestinationRefused, destination_pinned
from .models import Attempt, Delivery, Endpoint

logger = logging.getLogger(__name__)

SYSTEM = Actor.system("webhooks")
USER_AGENT = "Rationale-Webhooks/1"
# Read at most this much of a response (to keep the connection reusable); it is never stored.
RESPONSE_READ_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Outcome:
    delivery: Delivery
    at: datetime
    status_code: int | None
    error: str
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def backoff_seconds(attempts: int) -> float:
    """Wait before the next attempt after `attempts` failed ones: full jitter, uniformly drawn up
    to min(cap, base * 2**(attempts - 1)), so that endpoints coming back are not hit in step."""
    ceiling = min(
        settings.WEBHOOK_BACKOFF_CAP_SECONDS, settings.WEBHOOK_BACKOFF_BASE_SECONDS * 2 ** (attempts - 1)
    )
    return random.uniform(0, ceiling)  # noqa: S311 - jitter, not a secret


def signing_secrets(endpoint: Endpoint, now: datetime) -> list[str]:
    """The current secret, and during a rotation's overlap the previous one too."""
    secrets = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > now
    ):
        secrets.append(endpoint.previous_secret)
    return secrets


def signed_headers(*, msg_id: str, body: bytes, secrets: list[str], now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers: one signature per secret, space-separated."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(Webhook(s).sign(msg_id, now, body) for s in secrets),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def body_of(delivery: Delivery) -> bytes:
    # Compact JSON of the stored payload; the signature covers exactly these bytes.
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()


def deliveries_claim(*, limit: int) -> tuple[str, list[Delivery]]:
    """Claim up to `limit` due deliveries: (the claim's token, them with their endpoints)."""
    token = uuid.uuid4().hex
    now = timezone.now()
    claimable = Q(status__in=Delivery.DUE_STATUSES, next_attempt_at__lte=now, endpoint__enabled=True) & (
        Q(claim="") | Q(claimed_at__lt=now - timedelta(seconds=settings.WEBHOOK_CLAIM_STALE_SECONDS))
    )
    with transaction.atomic():
        ids = list(
            # Only the deliveries' rows (of=self): locking their endpoint's row too would make a
            # second worker skip every delivery of the same endpoint.
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(claimable)
            .order_by("next_attempt_at")
            .values_list("id", flat=True)[:limit]
        )
        # The condition again in the UPDATE: where there are no row locks (SQLite) a second
        # claimer's UPDATE finds the rows taken.
        Delivery.objects.filter(claimable, id__in=ids).update(claim=token, claimed_at=now)
    claimed = Delivery.objects.filter(id__in=ids, claim=token)  # by primary key: `claim` has no index
    return token, list(claimed.select_related("endpoint").order_by("id"))


class Clients:
    """An HTTP client per host name for one run of the sender, each keeping its connections alive.
    Requests go to the checked address (destinations.destination_pinned), so connections are kept
    apart by name: two names on one address never share a TLS session verified for the other."""

    def __init__(self):
        self._by_name: dict[str, httpx.Client] = {}

    def __getitem__(self, hostname: str) -> httpx.Client:
        if hostname not in self._by_name:
            self._by_name[hostname] = httpx.Client(
                timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
                follow_redirects=False,
                headers={"accept": "*/*"},
                # Only the checked address, never a proxy from the environment.
                trust_env=False,
            )
        return self._by_name[hostname]

    def close(self) -> None:
        for client in self._by_name.values():
            client.close()


def attempt_send(delivery: Delivery, clients: Clients) -> Outcome:
    """POST one delivery; the answer's status code, or a short error. Never raises."""
    now = timezone.now()
    started = time.perf_counter()
    code, error = None, ""
    try:
        pinned = destination_pinned(delivery.endpoint.url)
        body = body_of(delivery)
        headers = signed_headers(
            msg_id=delivery.msg_id, body=body, secrets=signing_secrets(delivery.endpoint, now), now=now
        )
        client = clients[pinned.hostname]
        request = client.build_request(
            "POST",
            pinned.url,
            content=body,
            headers={**headers, **pinned.headers},
            extensions=pinned.extensions,
        )
        response = client.send(request, stream=True)
        try:
            code = response.status_code
            read = 0
            for chunk in response.iter_raw():
                read += len(chunk)
                if read > RESPONSE_READ_LIMIT:
                    break
        finally:
            response.close()
        if not 200 <= code < 300:
            error = f"HTTP {code}"
    except DestinationRefused as exc:
        error = f"refused: {exc}"
    except httpx.TimeoutException:
        error = "timed out"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}"
    return Outcome(delivery, now, code, error[:200], (time.perf_counter() - started) * 1000)


def outcomes_record(*, token: str, outcomes: list[Outcome]) -> int:
    """Write each attempt, the delivery's next state and their audit events, for the rows that
    still hold `token`; returns how many. One transaction for the batch."""
    if not outcomes:
        return 0
    now = timezone.now()
    with transaction.atomic():
        held = set(
            Delivery.objects.select_for_update()
            .filter(id__in=[o.delivery.pk for o in outcomes], claim=token)
            .values_list("id", flat=True)
        )
        changed, attempts, events = [], [], []
        for outcome in outcomes:
            d = outcome.delivery
            if d.pk not in held:  # taken back as stale meanwhile: its new holder records
                continue
            d.attempts += 1
            d.claim, d.claimed_at, d.updated_at = "", None, now
            if outcome.ok:
                d.status, d.delivered_at, d.next_attempt_at = Delivery.Status.DELIVERED, now, None
            elif d.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
                d.status, d.next_attempt_at = Delivery.Status.DEAD, None
            else:
                d.status = Delivery.Status.FAILED_RETRYING
                d.next_attempt_at = now + timedelta(seconds=backoff_seconds(d.attempts))
            changed.append(d)
            attempts.append(
                Attempt(
                    delivery=d,
                    replay=d.replays,
                    number=d.attempts,
                    at=outcome.at,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=outcome.duration_ms,
                )
            )
            ids = {"delivery": d.pk, "endpoint": d.endpoint_id}
            events.append(
                EventSpec(
                    SYSTEM,
                    Action.WEBHOOK_ATTEMPTED,
                    "webhook_delivery",
                    str(d.pk),
                    {
                        **ids,
                        "attempt": d.attempts,
                        "replay": d.replays,
                        "status_code": outcome.status_code,
                        "result": d.status,
                    },
                )
            )
            if d.status == Delivery.Status.DEAD:
                events.append(
                    EventSpec(
                        SYSTEM,
                        Action.WEBHOOK_DEAD_LETTERED,
                        "webhook_delivery",
                        str(d.pk),
                        {**ids, "attempts": d.attempts},
                    )
                )
        _states_write(changed, now)
        Attempt.objects.bulk_create(attempts)
        audit_record_many(events=events)
    return len(changed)


def _states_write(changed: list[Delivery], now: datetime) -> None:
    """The deliveries' new states: one UPDATE for the delivered and one for the dead (the usual
    case, all alike), and one per delivery to retry (each with its own jittered time). Django's
    bulk_update builds a CASE per row and field: it cost the worker more CPU than sending."""
    alike = {Delivery.Status.DELIVERED: [], Delivery.Status.DEAD: []}
    for d in changed:
        if d.status in alike:
            alike[d.status].append(d.pk)
        else:
            Delivery.objects.filter(pk=d.pk).update(
                status=d.status,
                attempts=d.attempts,
                next_attempt_at=d.next_attempt_at,
                claim="",
                claimed_at=None,
                updated_at=now,
            )
    for status, ids in alike.items():
        if ids:
            Delivery.objects.filter(pk__in=ids).update(
                status=status,
                attempts=F("attempts") + 1,
                next_attempt_at=None,
                delivered_at=now if status == Delivery.Status.DELIVERED else None,
                claim="",
                claimed_at=None,
                updated_at=now,
            )


def webhooks_deliver(*, limit: int, on_full_batch=None) -> dict:
    """Claim and send batches until none is due. `on_full_batch` is called when a batch was full,
    before sending it (the task publishes one more task: idle workers help)."""
    sent = delivered = 0
    clients = Clients()
    try:
        while True:
            token, claimed = deliveries_claim(limit=limit)
            if not claimed:
                break
            if len(claimed) == limit and on_full_batch is not None:
                on_full_batch()
            outcomes = [attempt_send(d, clients) for d in claimed]
            outcomes_record(token=token, outcomes=outcomes)
            sent += len(outcomes)
            delivered += sum(o.ok for o in outcomes)
    finally:
        clients.close()
    return {"sent": sent, "delivered": delivered}


def deliveries_due() -> bool:
    """Whether a delivery is due or held by a stale claim (the sweep then publishes a task)."""
    now = timezone.now()
    return (
        Delivery.objects.filter(
            status__in=Delivery.DUE_STATUSES, next_attempt_at__lte=now, endpoint__enabled=True
        )
        .filter(Q(claim="") | Q(claimed_at__lt=now - timedelta(seconds=settings.WEBHOOK_CLAIM_STALE_SECONDS)))
        .exists()
    )
