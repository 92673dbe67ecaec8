"""Webhook endpoints an API key registered, the deliveries of events to them, each attempt, and
the dispatcher's place in the audit log (webhooks.dispatch)."""

from django.db import models
from django.db.models import Q

from config.encryption import EncryptedTextField
from decisions.models import ApiKey, TimeStamped


class Endpoint(TimeStamped):
    """A URL of the controller's that receives the event types it chose, signed with its secret.

    Never deleted: disabling keeps its deliveries and attempts, which the audit log refers to.
    During a rotation the previous secret also signs, until `previous_secret_expires_at`.
    """

    api_key = models.ForeignKey(ApiKey, on_delete=models.PROTECT, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    # Stored encrypted (FIELD_ENCRYPTION_KEYS): a signing secret must be usable, so not hashed.
    secret = EncryptedTextField()
    previous_secret = EncryptedTextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["api_key", "enabled"], name="webhook_endpoint_key")]

    def __str__(self) -> str:
        return f"endpoint {self.pk} of key {self.api_key_id}"


class Delivery(models.Model):
    """One event for one endpoint. Its message id (the `webhook-id` header) is the audit event's,
    the same on every attempt and replay, so a receiver can drop duplicates."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for its first attempt"
        DELIVERED = "delivered", "Delivered (the endpoint answered 2xx)"
        FAILED_RETRYING = "failed_retrying", "Failed; will be tried again"
        DEAD = "dead", "Given up after the last attempt; can be replayed"

    DUE_STATUSES = (Status.PENDING, Status.FAILED_RETRYING)

    id = models.BigAutoField(primary_key=True)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.PROTECT, related_name="deliveries")
    audit_event_id = models.BigIntegerField()
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="attempts since created or replayed")
    replays = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # A worker's claim (webhooks.delivery): who holds it and since when; empty when unclaimed.
    claim = models.CharField(max_length=64, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # The dispatcher may read an event twice (a retry, two beat processes): one delivery.
            models.UniqueConstraint(fields=["endpoint", "audit_event_id"], name="webhook_delivery_once"),
        ]
        indexes = [
            # The claim: due deliveries by time, only those still to send.
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=Q(status__in=["pending", "failed_retrying"]),
            ),
            models.Index(fields=["endpoint", "status", "-id"], name="webhook_delivery_endpoint"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.event_type}, {self.status})"

    @property
    def msg_id(self) -> str:
        return f"msg_{self.audit_event_id}"


class Attempt(models.Model):
    """One POST of a delivery: its answer's status code or the error, never the response body
    (a receiver's page could echo personal data)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_rows")
    replay = models.PositiveSmallIntegerField(default=0, help_text="the delivery's replay round")
    number = models.PositiveSmallIntegerField(help_text="1 for the first attempt of the round")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)
    duration_ms = models.FloatField()

    class Meta:
        ordering = ["id"]
        constraints = [
            # Recorded once even if a task runs twice (the claim is checked too).
            models.UniqueConstraint(fields=["delivery", "replay", "number"], name="webhook_attempt_once"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.replay}.{self.number} of delivery {self.delivery_id}: {self.status_code or self.error}"


class DispatchCursor(models.Model):
    """The one row holding the id of the last audit event the dispatcher has turned into
    deliveries. Locked for the length of a dispatch, so dispatchers take turns."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="webhook_cursor_one_row")]

    def __str__(self) -> str:
        return f"webhook dispatch after audit event {self.last_event_id}"
