from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import Actor
from decisions.auth import IsAuditor, IsCaseworker, IsIntegration
from decisions.models import ModelVersion

from . import selectors, services
from .serializers import ExplanationSerializer


class ExplanationDetail(APIView):
    """The current explanation of a decision: pending, running, done (with everything) or failed."""

    permission_classes = [IsIntegration | IsAuditor | IsCaseworker]

    @extend_schema(responses={200: ExplanationSerializer})
    def get(self, request, pk):
        explanation = selectors.explanation_current(pk)
        if explanation is None:
            return Response({"detail": "no such decision"}, status=404)
        return Response(ExplanationSerializer(explanation).data)


class ExplanationRecompute(APIView):
    """Auditors: recompute and report whether it matches the stored result (bit-exact for trees)."""

    permission_classes = [IsAuditor]

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "Recompute",
                {
                    "identical": serializers.BooleanField(),
                    "max_abs_difference": serializers.FloatField(),
                    "method": serializers.CharField(),
                },
            )
        },
    )
    def post(self, request, pk):
        explanation = selectors.explanation_current(pk)
        if explanation is None:
            return Response({"detail": "no such decision"}, status=404)
        result = services.explanation_recompute(explanation=explanation, actor=Actor.user(request.user))
        return Response({k: result[k] for k in ("identical", "max_abs_difference", "method", "device")})


class GlobalImportance(APIView):
    """Mean absolute SHAP contribution per feature over a version's explained decisions."""

    permission_classes = [IsIntegration | IsAuditor | IsCaseworker]

    @extend_schema(
        responses={
            200: inline_serializer(
                "GlobalImportance",
                {
                    "explained_decisions": serializers.IntegerField(),
                    "features": serializers.ListField(child=serializers.DictField()),
                },
            )
        }
    )
    def get(self, request, name, version):
        found = get_object_or_404(
            ModelVersion.objects.select_related("model"), model__name=name, version=version
        )
        body = selectors.global_importance(found.pk)
        return Response({"model": name, "model_version": version, **body})
