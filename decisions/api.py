"""REST API of the registry (model versions) and of a subject's access link."""

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from config.openapi import refusals

from .auth import IsAuditor, IsCaseworker, IsIntegration, actor_of
from .lifecycle import model_version_promote, model_version_set_shadow
from .models import Decision
from .referral import referral_rules_set
from .registration import model_register, upload_read
from .registry import model_version_list
from .serializers import (
    ModelRegisterSerializer,
    ModelVersionSerializer,
    ReferralRulesBodySerializer,
    ReferralRulesSerializer,
)
from .subject_access import subject_access_reissue, subject_access_revoke


class ModelListCreate(APIView):
    # The one upload: files and JSON documents as multipart parts. Every other view takes JSON only.
    parser_classes = [MultiPartParser]

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsIntegration()]
        return [(IsIntegration | IsAuditor | IsCaseworker)()]

    @extend_schema(operation_id="models_list", responses={200: ModelVersionSerializer(many=True)})
    def get(self, request):
        return Response(ModelVersionSerializer(model_version_list(), many=True).data)

    @extend_schema(
        operation_id="models_register",
        request={"multipart/form-data": ModelRegisterSerializer},
        responses={
            202: ModelVersionSerializer,
            **refusals({409: "this name and version are registered already"}),
        },
        description="Registers a candidate version; its registration checks run on a worker. Poll the "
        "version: `status` becomes active (the model's first version), stays candidate (promote it), or "
        "rejected with `checks.reasons`.",
    )
    def post(self, request):
        serializer = ModelRegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        version = model_register(
            name=data["name"],
            version=data["version"],
            framework=data["framework"],
            explainer=data["explainer"],
            artifact=upload_read(data.get("artifact"), limit=settings.MODEL_ARTIFACT_MAX_BYTES),
            background=upload_read(data.get("background"), limit=settings.MODEL_BACKGROUND_MAX_BYTES),
            schema=data["schema"],
            output=data["output"],
            training=data["training"],
            texts=data["texts"],
            description=data["description"],
            retention_days=data.get("retention_days"),
            actor=actor_of(request),
        )
        return Response(
            ModelVersionSerializer(version).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": f"/api/v1/models/{version.model.name}/versions/{version.version}/"},
        )


class ModelVersionDetail(APIView):
    permission_classes = [IsIntegration | IsAuditor | IsCaseworker]

    @extend_schema(operation_id="model_version_read", responses={200: ModelVersionSerializer})
    def get(self, request, name, version):
        found = get_object_or_404(model_version_list(), model__name=name, version=version)
        return Response(ModelVersionSerializer(found).data)


class ModelVersionPromote(APIView):
    """Make this version the model's default: requests without model_version use it from now on."""

    permission_classes = [IsIntegration]

    @extend_schema(
        operation_id="model_version_promote",
        request=None,
        responses={
            200: ModelVersionSerializer,
            **refusals({409: "the version has not passed its checks, or is retired"}),
        },
    )
    def post(self, request, name, version):
        found = get_object_or_404(model_version_list(), model__name=name, version=version)
        promoted = model_version_promote(version=found, actor=actor_of(request))
        return Response(ModelVersionSerializer(model_version_list().get(pk=promoted.pk)).data)


class ShadowSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(help_text="score and explain beside the default without deciding")


class ModelVersionShadow(APIView):
    """Start or stop a candidate's shadow run beside the model's default."""

    permission_classes = [IsIntegration]

    @extend_schema(
        operation_id="model_version_shadow_set",
        request=ShadowSerializer,
        responses={
            200: ModelVersionSerializer,
            **refusals({409: "only a candidate that passed its checks runs in shadow"}),
        },
    )
    def post(self, request, name, version):
        serializer = ShadowSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        found = get_object_or_404(model_version_list(), model__name=name, version=version)
        changed = model_version_set_shadow(
            version=found, enabled=serializer.validated_data["enabled"], actor=actor_of(request)
        )
        return Response(ModelVersionSerializer(model_version_list().get(pk=changed.pk)).data)


class ModelVersionReferral(APIView):
    """A version's referral rules: which of its decisions a person reviews before they take effect
    (docs/referrals.md). Read by the integration and staff; replaced by the integration."""

    def get_permissions(self):
        if self.request.method == "PUT":
            return [IsIntegration()]
        return [(IsIntegration | IsAuditor | IsCaseworker)()]

    @staticmethod
    def _body(version) -> dict:
        return {"model": version.model.name, "version": version.version, "rules": version.referral_rules}

    @extend_schema(operation_id="model_version_referral_read", responses={200: ReferralRulesBodySerializer})
    def get(self, request, name, version):
        found = get_object_or_404(model_version_list(), model__name=name, version=version)
        return Response(self._body(found))

    @extend_schema(
        operation_id="model_version_referral_set",
        request=ReferralRulesSerializer,
        responses={200: ReferralRulesBodySerializer},
        description="Replaces the rules ({} refers none); a 400 names each bad rule. Audited with the "
        "old and the new rules.",
    )
    def put(self, request, name, version):
        found = get_object_or_404(model_version_list(), model__name=name, version=version)
        changed = referral_rules_set(version=found, rules=request.data, actor=actor_of(request))
        return Response(self._body(changed))


class AccessRevoke(APIView):
    """Withdraw a subject's access link (integration or caseworker)."""

    permission_classes = [IsIntegration | IsCaseworker]

    @extend_schema(operation_id="decision_access_revoke", request=None, responses={204: None})
    def post(self, request, pk):
        decision = get_object_or_404(Decision, pk=pk, kind=Decision.Kind.AUTOMATED)
        subject_access_revoke(decision=decision, actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AccessReissueSerializer(serializers.Serializer):
    subject_access_url = serializers.CharField(help_text="the new link, returned once: send it to the person")
    access_expires_at = serializers.DateTimeField()


class AccessReissue(APIView):
    """A new access link for the subject (integration or caseworker): the old link stops working."""

    permission_classes = [IsIntegration | IsCaseworker]

    @extend_schema(
        operation_id="decision_access_reissue", request=None, responses={200: AccessReissueSerializer}
    )
    def post(self, request, pk):
        decision = get_object_or_404(Decision, pk=pk, kind=Decision.Kind.AUTOMATED)
        reissued = subject_access_reissue(decision=decision, actor=actor_of(request))
        body = AccessReissueSerializer(
            {"subject_access_url": reissued.url, "access_expires_at": reissued.expires_at}
        ).data
        # The link is a secret: no cache may keep this answer.
        return Response(body, headers={"Cache-Control": "no-store"})
