from django.contrib import admin

from .models import Explanation


@admin.register(Explanation)
class ExplanationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "decision_id",
        "status",
        "method",
        "device",
        "additivity_error",
        "queued_at",
        "finished_at",
    ]
    list_filter = ["status", "method", "device"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Explanation._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
