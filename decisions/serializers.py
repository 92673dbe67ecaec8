"""Shapes of the registry's API and of a decision in a request (the services check the values)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.parsers import json_loads_bounded
from config.text import TextField, json_control_characters

from .models import ModelVersion

JSON_DOCUMENT_MAX_BYTES = 2 * 1024 * 1024


@extend_schema_field(
    {"type": "string", "description": "a JSON document: JSON text, or an uploaded .json file"}
)
class JsonDocumentField(serializers.Field):
    """A JSON document sent as text, as an uploaded .json file, or inline in a JSON body."""

    default_error_messages = {
        "invalid": "must be a JSON document, as text or an uploaded .json file: {reason}",
        "too_large": "is over {limit} bytes",
        "not_object": "must be a JSON object",
        "control_characters": "must not contain control characters (at {where})",
    }

    def to_internal_value(self, data):
        if hasattr(data, "read"):
            if getattr(data, "size", 0) > JSON_DOCUMENT_MAX_BYTES:
                self.fail("too_large", limit=JSON_DOCUMENT_MAX_BYTES)
            data = data.read()
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                self.fail("invalid", reason="it is not UTF-8 text")
        if isinstance(data, str):
            if len(data) > JSON_DOCUMENT_MAX_BYTES:
                self.fail("too_large", limit=JSON_DOCUMENT_MAX_BYTES)
            try:
                data = json_loads_bounded(data)
            except ValueError as exc:  # JSONDecodeError, JsonTooDeep
                reason = getattr(exc, "msg", str(exc))
                where = f" at line {exc.lineno}, column {exc.colno}" if hasattr(exc, "lineno") else ""
                self.fail("invalid", reason=f"{reason}{where}")
        if not isinstance(data, dict):
            self.fail("not_object")
        where = json_control_characters(data)
        if where is not None:  # PostgreSQL refuses a NUL in jsonb: it was a 500
            self.fail("control_characters", where=where)
        return data

    def to_representation(self, value):
        return value


class DecisionCreateSerializer(serializers.Serializer):
    """The shape of one decision, for the API's schema. The recording service checks each field
    (decisions.recording): it alone says what is wrong, for a single decision and in a bulk."""

    model = serializers.CharField(max_length=64, help_text="registered model name, e.g. credit-risk")
    model_version = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="defaults to the model's default version"
    )
    subject_ref = serializers.CharField(
        max_length=128, help_text="the controller's pseudonymous reference of the person"
    )
    reference = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    features = serializers.JSONField(
        help_text="feature name -> value, as the model version's schema declares"
    )
    score = serializers.FloatField(
        required=False,
        help_text="external scorers only: the controller's score (a probability, or a regression's value)",
    )
    contributions = serializers.DictField(
        child=serializers.FloatField(),
        required=False,
        help_text="external scorers only, optional: the controller's per-feature contributions; "
        "base_value + their sum must equal score",
    )
    base_value = serializers.FloatField(required=False, help_text="external scorers only, with contributions")
    assisted = serializers.DictField(
        required=False,
        help_text='a decision a person took using the model\'s output (AI Act Art. 86): {"decided_by": '
        '"the controller\'s reference of that person", "outcome": "their outcome"}; the model\'s own '
        "outcome is kept beside theirs",
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
    is_default = serializers.SerializerMethodField(
        help_text="requests without model_version use this version"
    )

    def get_is_default(self, obj) -> bool:
        return obj.model.default_version_id == obj.pk

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "model",
            "version",
            "framework",
            "explainer",
            "status",
            "is_default",
            "shadow",
            "checks",
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
        # A response body only: every field is always there, so the schema marks each required.
        read_only_fields = fields


class ModelRegisterSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=64)
    version = TextField(max_length=64)
    framework = serializers.ChoiceField(choices=ModelVersion.Framework.choices)
    explainer = serializers.ChoiceField(choices=ModelVersion.ExplainerMethod.choices, default="auto")
    artifact = serializers.FileField(
        required=False,
        help_text="XGBoost (UBJSON/JSON), LightGBM (text), scikit-learn (skops), ONNX or .keras file; "
        "none for an external scorer",
    )
    background = serializers.FileField(
        required=False,
        help_text="background rows as a .npy float array (rows x model columns); optional for an external scorer",
    )
    schema = JsonDocumentField(help_text="feature schema (docs/schema.md): JSON text or a .json file")
    output = JsonDocumentField(
        help_text="type (binary, multiclass, regression), class_labels, favourable_label or favourable_when, "
        "threshold, score_meaning: JSON text or a .json file"
    )
    training = JsonDocumentField(required=False, default=dict)
    texts = JsonDocumentField(
        required=False,
        default=dict,
        help_text="controller, purpose, significance, consequences, legal_basis, contact: JSON text or a .json file",
    )
    description = TextField(multiline=True, required=False, allow_blank=True, default="")
    retention_days = serializers.IntegerField(required=False, min_value=1)


class ReferralRulesSerializer(serializers.Serializer):
    """The shape of a version's referral rules, for the API's schema; decisions.referral checks
    each rule and names the bad ones (docs/referrals.md)."""

    score_band = serializers.DictField(
        required=False,
        help_text='{"below": x, "above": y} around the threshold, or {"min": a, "max": b}',
    )
    sample_rate = serializers.FloatField(
        required=False, help_text="share of decisions referred at random, 0 to 1"
    )
    flagged_explanation = serializers.JSONField(
        required=False,
        help_text='true, or {"additivity_tolerance": x}: refer decisions whose explanation is flagged',
    )
    protected_groups = serializers.DictField(
        required=False,
        help_text='{"attributes": ["foreign_worker"], "min_ratio": 0.8, "window": 1000, "min_group_decisions": 30}',
    )
    deadline_hours = serializers.IntegerField(required=False, help_text="a referred decision's deadline")


class ReferralRulesBodySerializer(serializers.Serializer):
    model = serializers.CharField()
    version = serializers.CharField()
    rules = ReferralRulesSerializer()
