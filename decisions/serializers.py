"""Input validation and output shapes of the decisions API (thin: the services do the work)."""

import functools
import uuid

from django.urls import get_script_prefix, reverse
from rest_framework import serializers

from .models import Decision, ModelVersion
from .services import DECISION_FIELDS, DecisionInput, unknown_fields

_FIELDS = frozenset(DECISION_FIELDS)


class DecisionCreateSerializer(serializers.Serializer):
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

    def to_internal_value(self, data):
        """The fields' own checks, and an error for each key that is not a field, all at once."""
        unknown = unknown_fields(data) if isinstance(data, dict) else {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                exc.detail.update(
                    {name: [serializers.ErrorDetail(m, "unknown")] for name, m in unknown.items()}
                )
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value

    def to_input(self) -> DecisionInput:
        return self._input(self.validated_data)

    @staticmethod
    def _input(data: dict) -> DecisionInput:
        return DecisionInput(
            model=data["model"],
            model_version=data.get("model_version") or None,
            subject_ref=data["subject_ref"],
            reference=data.get("reference", ""),
            features=data["features"],
        )

    # (field, max length, required, may be blank) of the text fields above.
    _TEXT = (
        ("model", 64, True, False),
        ("model_version", 64, False, True),
        ("subject_ref", 128, True, False),
        ("reference", 128, False, True),
    )

    @classmethod
    def plain_input(cls, data) -> DecisionInput | None:
        """The input that validation would give, for a plainly well-formed request; None for
        anything else, which the serializer then validates and, if wrong, reports.

        "Plainly": no key but the fields, every text field absent where optional, or a string
        of printable ASCII within its length with nothing for DRF to trim, and features present
        and not null.
        For those, DRF's CharField and JSONField return the value unchanged, so the result is
        the same. Building a serializer deep-copies its fields: about 10% of a recorded
        decision's CPU (bench/RESULTS.md, stop 9).
        """
        if type(data) is not dict or data.get("features") is None or not data.keys() <= _FIELDS:
            return None
        for name, max_length, required, blank in cls._TEXT:
            if name not in data:
                if required:
                    return None
                continue
            value = data[name]
            if type(value) is not str or len(value) > max_length or (not value and not blank):
                return None
            if not (value.isascii() and value.isprintable()) or value != value.strip():
                return None
        return cls._input(data)


class BulkCreateSerializer(serializers.Serializer):
    decisions = serializers.ListField(child=serializers.DictField(), allow_empty=False)

    def validate(self, attrs):
        unknown = [name for name in self.initial_data if name != "decisions"]
        if unknown:
            raise serializers.ValidationError(
                {str(name): "unknown field; a bulk request has only decisions" for name in unknown}
            )
        return attrs


class ExplanationLinkSerializer(serializers.Serializer):
    status = serializers.CharField()
    url = serializers.CharField()


class DecisionSerializer(serializers.Serializer):
    """Documented output shape; bodies are built by `decision_body` for speed."""

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
    subject_access_url = serializers.CharField(required=False, help_text="returned once, on creation")


def explanation_url(decision_id: uuid.UUID) -> str:
    """reverse("api-decision-explanation", args=[decision_id]), from a template reversed once
    per script prefix: every decision body has this link, and reverse() cost about 75 us of CPU
    inside a recorded decision and 10 us per decision of a bulk response (bench/RESULTS.md,
    ingest, stop 14). The URL's only argument is the decision's UUID, written as str() writes it."""
    before, after = _explanation_url_template(get_script_prefix())
    return f"{before}{decision_id}{after}"


@functools.cache
def _explanation_url_template(script_prefix: str) -> tuple[str, str]:
    # script_prefix is the cache's key: reverse() reads the same prefix itself.
    marker = uuid.UUID(int=0)
    before, after = reverse("api-decision-explanation", args=[marker]).split(str(marker))
    return before, after


def decision_body(decision: Decision, *, explanation=None, access_url: str | None = None) -> dict:
    version = decision.model_version
    if explanation is None:
        explanation = getattr(decision, "current_explanation", None)
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
        "explanation": {
            "status": explanation.status if explanation is not None else None,
            "url": explanation_url(decision.pk),
        },
    }
    if access_url is not None:
        body["subject_access_url"] = access_url
    return body


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
