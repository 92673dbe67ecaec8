"""Operators register model versions and manage API keys here; every write goes through a service."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.shortcuts import redirect, render

from audit.services import Actor
from config.errors import ApplicationError, add_service_errors

from . import second_factor_admin  # noqa: F401 - authenticator apps: seen and removed, audited
from .accounts import api_key_revoke
from .lifecycle import model_version_promote, model_version_set_shadow, model_version_set_status
from .models import ApiKey, Decision, DecisionModel, ModelVersion
from .read_log import ADMINISTRATION, ADMINISTRATOR, personal_data_read
from .receivers import acting_as
from .registration import model_register


class ModelVersionRegisterForm(forms.Form):
    name = forms.SlugField(help_text="e.g. credit-risk")
    version = forms.CharField(max_length=64)
    framework = forms.ChoiceField(choices=ModelVersion.Framework.choices)
    explainer = forms.ChoiceField(choices=ModelVersion.ExplainerMethod.choices, initial="auto")
    artifact = forms.FileField(
        required=False,
        help_text="XGBoost (UBJSON/JSON), LightGBM (text), scikit-learn (skops), ONNX or .keras file; "
        "none for an external scorer (docs/models.md)",
    )
    background = forms.FileField(
        required=False,
        help_text=".npy array of background rows (rows x model columns); optional for an external scorer",
    )
    schema = forms.JSONField(help_text="feature schema (see README)")
    output = forms.JSONField(
        help_text='{"type": "binary", "class_labels": [...], "favourable_label": ..., "threshold": 0.5} or '
        '{"type": "regression", "threshold": T, "favourable_when": "above", "class_labels": [below, at or above]}'
    )
    texts = forms.JSONField(
        required=False,
        initial=dict,
        help_text="controller, purpose, significance, consequences, legal_basis, contact",
    )
    training = forms.JSONField(required=False, initial=dict)


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "framework",
        "explainer",
        "status",
        "is_default",
        "shadow",
        "checks_state",
        "created_at",
    ]
    list_filter = ["framework", "status", "model", "shadow"]
    exclude = ["artifact", "background"]
    actions = ["promote", "start_shadow", "stop_shadow", "retire", "activate"]

    @admin.display(boolean=True, description="default")
    def is_default(self, obj):
        return obj.model.default_version_id == obj.pk

    @admin.display(description="checks")
    def checks_state(self, obj):
        checks = obj.checks or {}
        reasons = "; ".join(checks.get("reasons", []))
        return f"{checks.get('state', '')}{': ' + reasons if reasons else ''}"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in ModelVersion._meta.fields if f.name not in ("artifact", "background")]

    def add_view(self, request, form_url="", extra_context=None):
        form = ModelVersionRegisterForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                version = model_register(
                    name=data["name"],
                    version=data["version"],
                    framework=data["framework"],
                    explainer=data["explainer"],
                    artifact=data["artifact"].read() if data["artifact"] else b"",
                    background=data["background"].read() if data["background"] else b"",
                    schema=data["schema"],
                    output=data["output"],
                    texts=data["texts"] or {},
                    training=data["training"] or {},
                    actor=Actor.user(request.user),
                )
            except ApplicationError as exc:
                add_service_errors(form, exc)
            else:
                self.message_user(
                    request,
                    f"Registered {version}: its registration checks run on a worker; the status "
                    "below says when it passed (active, or a candidate to promote) or was rejected.",
                    messages.SUCCESS,
                )
                return redirect("admin:decisions_modelversion_change", version.pk)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Register a model version",
            "opts": self.model._meta,
        }
        return render(request, "admin/decisions/register_model.html", context)

    def has_delete_permission(self, request, obj=None):
        return False

    def _each(self, request, queryset, action, **kwargs) -> None:
        """Run a registry service on each selected version; a refusal is shown, not a 500."""
        for version in queryset:
            try:
                action(version=version, actor=Actor.user(request.user), **kwargs)
            except ApplicationError as exc:
                reasons = "; ".join(str(v) for v in exc.fields.values())
                self.message_user(request, f"{version}: {exc.message} ({reasons})", messages.ERROR)

    @admin.action(description="Promote to the model's default (audited)")
    def promote(self, request, queryset):
        self._each(request, queryset, model_version_promote)

    @admin.action(description="Run in shadow beside the default")
    def start_shadow(self, request, queryset):
        self._each(request, queryset, model_version_set_shadow, enabled=True)

    @admin.action(description="Stop the shadow run")
    def stop_shadow(self, request, queryset):
        self._each(request, queryset, model_version_set_shadow, enabled=False)

    @admin.action(description="Retire selected versions")
    def retire(self, request, queryset):
        self._each(request, queryset, model_version_set_status, status="retired")

    @admin.action(description="Activate selected versions")
    def activate(self, request, queryset):
        self._each(request, queryset, model_version_set_status, status="active")


@admin.register(DecisionModel)
class DecisionModelAdmin(admin.ModelAdmin):
    list_display = ["name", "default_version", "description", "created_at"]
    readonly_fields = ["name", "default_version", "created_at"]

    def has_add_permission(self, request):
        return False  # models come into being with their first registered version

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "created_at", "revoked_at"]
    readonly_fields = ["name", "prefix", "key_hash", "created_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # keys are created with `manage.py create_api_key`, which shows the key once

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(key=key, actor=Actor.user(request.user))


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = ["id", "model_version", "outcome", "score", "decided_at", "kind"]
    list_filter = ["model_version", "outcome", "kind"]
    search_fields = ["subject_ref", "reference"]
    list_select_related = ["model_version__model"]

    def get_readonly_fields(self, request, obj=None):
        # Not the commitment's key: whoever holds it can test guesses against the commitment.
        return [f.name for f in Decision._meta.fields if f.name != "features_key"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is not None:  # a page of decisions was shown: one event for all of them
            self._log_read(request, [d.pk for d in changelist.result_list])
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        original = (getattr(response, "context_data", None) or {}).get("original")
        if original is not None:
            self._log_read(request, [original.pk])
        return response

    def _log_read(self, request, decision_ids) -> None:
        personal_data_read(
            actor=Actor.user(request.user),
            role=ADMINISTRATOR,
            purpose=ADMINISTRATION,
            decision_ids=decision_ids,
        )


admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class AuditedUserAdmin(UserAdmin):
    """Django's user admin, with whoever signed in named on the role changes it makes
    (decisions.receivers writes the events)."""

    def changeform_view(self, request, *args, **kwargs):
        with acting_as(Actor.user(request.user)):
            return super().changeform_view(request, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):
        with acting_as(Actor.user(request.user)):
            return super().changelist_view(request, *args, **kwargs)

    def delete_view(self, request, *args, **kwargs):
        with acting_as(Actor.user(request.user)):
            return super().delete_view(request, *args, **kwargs)
