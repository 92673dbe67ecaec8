"""Operators see endpoints, deliveries and attempts here, read-only: every change goes through the
integrator's API (webhooks.services), where it is audited. Secrets are never shown."""

from django.contrib import admin

from audit.admin import ReadOnlyAdmin

from .models import Attempt, Delivery, Endpoint


@admin.register(Endpoint)
class EndpointAdmin(ReadOnlyAdmin):
    list_display = ["id", "api_key", "url", "enabled", "created_at", "previous_secret_expires_at"]
    list_filter = ["enabled"]
    fields = ["api_key", "url", "description", "event_types", "enabled", "created_at", "updated_at"]


class AttemptInline(admin.TabularInline):
    model = Attempt
    fields = ["replay", "number", "at", "status_code", "error", "duration_ms"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "endpoint", "event_type", "status", "attempts", "replays", "next_attempt_at"]
    list_filter = ["status", "event_type"]
    list_select_related = ["endpoint"]
    inlines = [AttemptInline]
