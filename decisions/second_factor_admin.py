"""Authenticator apps in Django's admin: seen and removed (audited), never added or edited there,
where an administrator would see or choose the secret."""

from django.contrib import admin
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.services import Actor

from .second_factor import second_factor_remove


class TOTPDeviceAdmin(admin.ModelAdmin):
    list_display = ["user", "name", "confirmed", "created_at", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    fields = ["user", "name", "confirmed", "created_at", "last_used_at", "throttling_failure_count"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        second_factor_remove(user=obj.user, actor=Actor.user(request.user))

    def delete_queryset(self, request, queryset):
        for user in {device.user for device in queryset.select_related("user")}:
            second_factor_remove(user=user, actor=Actor.user(request.user))


# django-otp registers its own admin, which would let an administrator add a device with a
# secret of their choosing and delete one unaudited.
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)
admin.site.register(TOTPDevice, TOTPDeviceAdmin)
