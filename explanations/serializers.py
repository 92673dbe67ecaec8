"""Bodies of the decisions and explanations API. A decision's body is built by `decision_body`
alone, on creation, in lists and in detail; DecisionSerializer documents it."""

import uuid

from django.urls import reverse
from rest_framework import serializers

from decisions.models import Decision

from .models import Explanation
from .reasons import principal_reasons


class ContributionSerializer(serializers.Serializer):
    feature = serializers.CharField()
    label = serializers.CharField()
    value = serializers.JSONField(allow_null=True)
    display_value = serializers.CharField(allow_null=True)
    contribution = serializers.FloatField()
    mutable = serializers.BooleanField()
    protected = serializers.BooleanField()


class ExplanationSerializer(serializers.ModelSerializer):
    decision = serializers.UUIDField(source="decision_id")
    contributions = ContributionSerializer(many=True, source="labelled_contributions")
    reasons = serializers.SerializerMethodField()

    class Meta:
        model = Explanation
        fields = [
            "decision",
            "status",
            "method",
            "params",
            "output_space",
            "explained_class",
            "base_value",
            "predicted_value",
            "contributions",
            "additivity_error",
            "reasons",
            "raw_values",
            "versions",
            "model_sha256",
            "background_sha256",
            "device",
            "compute_ms",
            "batch_size",
            "queued_at",
            "started_at",
            "finished_at",
            "attempts",
            "error",
            "counterfactuals",
        ]
        # A response body only: every field is always there, so the schema marks each required.
        read_only_fields = fields

    def get_reasons(self, obj) -> list[str]:
        if obj.status != Explanation.Status.DONE:
            return []
        return [r["text"] for r in principal_reasons(obj, obj.decision)]


class ExplanationLinkSerializer(serializers.Serializer):
    status = serializers.CharField(allow_null=True, help_text="null for a decision with no explanation")
    url = serializers.CharField()


class AssistedSerializer(serializers.Serializer):
    decided_by = serializers.CharField(help_text="the controller's reference of the person who decided")
    model_outcome = serializers.CharField(help_text="what the model would have decided")


class ReferralSerializer(serializers.Serializer):
    reasons = serializers.ListField(
        child=serializers.CharField(),
        help_text="why a person reviews it first: score_band, sample, protected_group, flagged_explanation",
    )
    due_at = serializers.DateTimeField(help_text="by when a caseworker is to confirm or change it")


class DecisionSerializer(serializers.Serializer):
    """The shape `decision_body` builds, for the API's schema."""

    id = serializers.UUIDField()
    model = serializers.CharField()
    model_version = serializers.CharField()
    kind = serializers.CharField()
    subject_ref = serializers.CharField()
    reference = serializers.CharField()
    outcome = serializers.CharField()
    favourable = serializers.BooleanField(allow_null=True)
    score = serializers.FloatField()
    decided_at = serializers.DateTimeField()
    features = serializers.DictField()
    explanation = ExplanationLinkSerializer()
    status = serializers.ChoiceField(
        choices=Decision.Status.choices,
        help_text="final; pending_review: referred to a person, it takes no effect until they confirm "
        "(final) or change it (replaced, by a human decision)",
    )
    referral = ReferralSerializer(required=False, help_text="only for a decision referred to a person")
    subject_access_url = serializers.CharField(required=False, help_text="returned once, on creation")
    assisted = AssistedSerializer(
        required=False, help_text="only for a decision a person took using the model's output (kind assisted)"
    )


def explanation_url(decision_id: uuid.UUID) -> str:
    return reverse("api-decision-explanation", args=[decision_id])


def decision_body(
    decision: Decision, *, explanation_status: str | None = None, access_url: str | None = None
) -> dict:
    """A decision's body in every response. Its explanation's status is read from
    `decision.current_explanation` (selectors.with_current_explanation) unless given; the
    subject's access link is only ever in the response that created the decision."""
    version = decision.model_version
    if explanation_status is None:
        current = getattr(decision, "current_explanation", None)
        explanation_status = current.status if current is not None else None
    body = {
        "id": str(decision.pk),
        "model": version.model.name,
        "model_version": version.version,
        "kind": decision.kind,
        "subject_ref": decision.subject_ref,
        "reference": decision.reference,
        "outcome": decision.outcome,
        "favourable": decision.favourable,
        "score": decision.score,
        "decided_at": decision.decided_at.isoformat(),
        "features": decision.features,
        "explanation": {"status": explanation_status, "url": explanation_url(decision.pk)},
        "status": decision.status,
    }
    if decision.referral_reasons:
        due = decision.review_due_at
        body["referral"] = {"reasons": decision.referral_reasons, "due_at": due.isoformat() if due else None}
    if decision.kind == Decision.Kind.ASSISTED:
        body["assisted"] = {"decided_by": decision.decided_by, "model_outcome": decision.model_outcome}
    if access_url is not None:
        body["subject_access_url"] = access_url
    return body
