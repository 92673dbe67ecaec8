"""Shapes of the registry's API and of a decision in a request (the services check the values)."""

from rest_framework import serializers

from .models import ModelVersion


class DecisionCreateSerializer(serializers.Serializer):
    """The shape of one decision, for the API's schema. The recording service checks each field
    (decisions.recording): it alone says what is wrong, for a single decision and in a bulk."""

    model = serializers.CharField(max_length=64, help_text="registered model name, e.g. credit-risk")
    model_version = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="defaults to the newest active version"
    )
    subject_ref = serializers.CharField(
        max_length=128, help_text="the controller's pseudonymous reference of the person"
    )
    reference = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    features = serializers.JSONField(
        help_text="feature name -> value, as the model version's schema declares"
    )


class BulkCreateSerializer(serializers.Serializer):
    """The bulk envelope: nothing but a list of decisions, each checked by the recording service."""

    decisions = serializers.ListField(help_text="decisions as POST decisions/ takes them")

    def validate(self, attrs):
        unknown = [name for name in self.initial_data if name != "decisions"]
        if unknown:
            raise serializers.ValidationError(
                {str(name): "unknown field; a bulk request has only decisions" for name in unknown}
            )
        return attrs


class ModelVersionSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "model",
            "version",
            "framework",
            "explainer",
            "status",
            "artifact_sha256",
            "background_sha256",
            "feature_schema",
            "output",
            "training",
            "controller",
            "purpose",
            "significance",
            "consequences",
            "legal_basis",
            "contact",
            "retention_days",
            "created_at",
        ]


class ModelRegisterSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=64)
    version = serializers.CharField(max_length=64)
    framework = serializers.ChoiceField(choices=ModelVersion.Framework.choices)
    explainer = serializers.ChoiceField(choices=ModelVersion.ExplainerMethod.choices, default="auto")
    artifact = serializers.FileField(help_text="XGBoost model (UBJSON/JSON) or .keras file")
    background = serializers.FileField(
        help_text="background rows as a .npy float array (rows x model columns)"
    )
    schema = serializers.JSONField(binary=True, help_text="feature schema (see README)")
    output = serializers.JSONField(binary=True, help_text="class_labels, favourable_label, threshold, type")
    training = serializers.JSONField(binary=True, required=False, default=dict)
    texts = serializers.JSONField(
        binary=True,
        required=False,
        default=dict,
        help_text="controller, purpose, significance, consequences, legal_basis, contact",
    )
    description = serializers.CharField(required=False, allow_blank=True, default="")
    retention_days = serializers.IntegerField(required=False, min_value=1)
