from rest_framework import serializers

from .models import Explanation


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

    def get_reasons(self, obj) -> list[str]:
        from .reasons import principal_reasons

        if obj.status != Explanation.Status.DONE:
            return []
        return [r["text"] for r in principal_reasons(obj, obj.decision)]
