"""Bodies of the Article 22 API: a request as its subject sees it, and as a caseworker does."""

from __future__ import annotations

from rest_framework import serializers

from config.text import JSONObjectField, TextField

from .deadlines import is_overdue
from .models import CaseAction, ReviewRequest
from .services.steps import MAX_TEXT


class ActionSerializer(serializers.ModelSerializer):
    class Meta:
        model = CaseAction
        fields = ["kind", "rationale", "created_at"]


class SubjectRequestSerializer(serializers.ModelSerializer):
    history = serializers.SerializerMethodField()
    # Empty for requests other than a contest: a read-only model field would leave "" out of the enum.
    grounds = serializers.ChoiceField(choices=ReviewRequest.Grounds.choices, allow_blank=True, read_only=True)
    new_outcome = serializers.CharField(
        source="human_decision.outcome", default=None, allow_null=True, read_only=True
    )

    class Meta:
        model = ReviewRequest
        fields = [
            "reference",
            "kind",
            "grounds",
            "status",
            "statement",
            "corrections",
            "received_at",
            "due_at",
            "extension_months",
            "extension_reason",
            "info_question",
            "closed_at",
            "rationale",
            "new_outcome",
            "history",
        ]
        # A response body only: every field is always there, so the schema marks each required.
        read_only_fields = fields

    def get_history(self, obj) -> list[dict]:
        # The subject sees the steps, not who took the case.
        return ActionSerializer(
            [a for a in obj.actions.all() if a.kind != CaseAction.Kind.TAKEN], many=True
        ).data


class CaseSerializer(SubjectRequestSerializer):
    decision = serializers.UUIDField(source="decision_id")
    model = serializers.CharField(source="decision.model_version.model.name")
    model_version = serializers.CharField(source="decision.model_version.version")
    outcome = serializers.CharField(source="decision.outcome")
    assignee = serializers.CharField(
        source="assignee.username", default=None, allow_null=True, read_only=True
    )
    human_decision = serializers.UUIDField(
        source="human_decision_id", default=None, allow_null=True, read_only=True
    )
    overdue = serializers.SerializerMethodField()
    restricted = serializers.SerializerMethodField(
        help_text="restricted on the person's request: statement and corrections are withheld (null)"
    )
    # Null while the decision is restricted (reviews.case_api): the schema says so.
    statement = serializers.CharField(allow_null=True)
    corrections = serializers.JSONField(allow_null=True)

    class Meta(SubjectRequestSerializer.Meta):
        fields = [
            *SubjectRequestSerializer.Meta.fields,
            "decision",
            "model",
            "model_version",
            "outcome",
            "assignee",
            "human_decision",
            "overdue",
            "restricted",
        ]
        read_only_fields = fields

    def get_history(self, obj) -> list[dict]:
        return [
            {
                "kind": a.kind,
                "actor": a.actor.username if a.actor_id else None,
                "rationale": a.rationale,
                "created_at": a.created_at.isoformat(),
            }
            for a in obj.actions.all()
        ]

    def get_overdue(self, obj) -> bool:
        return is_overdue(obj)

    def get_restricted(self, obj) -> bool:
        return obj.decision.restricted_at is not None


class RequestCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ReviewRequest.Kind.values)
    grounds = serializers.ChoiceField(choices=ReviewRequest.Grounds.values, required=False, allow_blank=True)
    statement = TextField(multiline=True, required=False, allow_blank=True, max_length=MAX_TEXT)
    contact_email = serializers.EmailField(required=False, allow_blank=True)
    # A rectification's proposed values, {feature: value}; the service checks them by name.
    corrections = JSONObjectField(required=False)


class TextSerializer(serializers.Serializer):
    statement = TextField(multiline=True, max_length=MAX_TEXT)


class RationaleSerializer(serializers.Serializer):
    rationale = TextField(multiline=True, max_length=MAX_TEXT)


class OverturnSerializer(RationaleSerializer):
    new_outcome = TextField(max_length=64)


class AskSerializer(serializers.Serializer):
    question = TextField(multiline=True, max_length=MAX_TEXT)


class ExtendSerializer(serializers.Serializer):
    months = serializers.IntegerField()
    reason = TextField(multiline=True, max_length=MAX_TEXT)
