"""Shapes of the webhook API. Validation of values lives in webhooks.services, once."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import Attempt, Delivery, Endpoint


@extend_schema_field({"type": "string", "pattern": f"^({'|'.join(Delivery.Status.values)})$"})
class DeliveryStatusField(serializers.CharField):
    """A delivery's state. A pattern rather than an enum in the schema: drf-spectacular makes every
    enum of a field named `status` a shared component, and the apps' would collide."""


class EndpointSerializer(serializers.ModelSerializer):
    previous_secret_valid_until = serializers.SerializerMethodField(
        help_text="during a rotation: until when the previous secret also signs"
    )

    class Meta:
        model = Endpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "enabled",
            "created_at",
            "updated_at",
            "previous_secret_valid_until",
        ]
        read_only_fields = fields

    def get_previous_secret_valid_until(self, endpoint: Endpoint) -> str | None:
        expires = endpoint.previous_secret_expires_at
        return expires.isoformat() if expires else None


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(help_text="`whsec_...`: shown this once; verify signatures with it")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class EndpointCreateSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="https URL that receives the POSTs")
    event_types = serializers.ListField(child=serializers.CharField(), help_text="event types to receive")
    description = serializers.CharField(required=False, allow_blank=True, default="")


class EndpointUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(required=False)
    event_types = serializers.ListField(child=serializers.CharField(), required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attempt
        fields = ["replay", "number", "at", "status_code", "error", "duration_ms"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    status = DeliveryStatusField(help_text="pending, delivered, failed_retrying (will retry) or dead")
    msg_id = serializers.CharField(help_text="the webhook-id header: the same on every attempt")

    class Meta:
        model = Delivery
        fields = [
            "id",
            "msg_id",
            "event_type",
            "status",
            "attempts",
            "replays",
            "next_attempt_at",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields


class DeliveryDetailSerializer(DeliverySerializer):
    payload = serializers.JSONField()
    attempt_history = AttemptSerializer(
        many=True, source="attempt_rows", help_text="every attempt, oldest first"
    )

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "payload", "attempt_history"]
        read_only_fields = fields
