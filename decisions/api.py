"""REST API of the registry (model versions) and of a subject's access link."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from .auth import IsAuditor, IsCaseworker, IsIntegration, actor_of
from .models import Decision
from .registration import model_register
from .registry import model_version_list
from .serializers import ModelRegisterSerializer, ModelVersionSerializer
from .subject_access import subject_access_revoke


class ModelListCreate(APIView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsIntegration()]
        return [(IsIntegration | IsAuditor | IsCaseworker)()]

    @extend_schema(responses={200: ModelVersionSerializer(many=True)})
    def get(self, request):
        return Response(ModelVersionSerializer(model_version_list(), many=True).data)

    @extend_schema(
        request={"multipart/form-data": ModelRegisterSerializer}, responses={201: ModelVersionSerializer}
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
            artifact=data["artifact"].read(),
            background=data["background"].read(),
            schema=data["schema"],
            output=data["output"],
            training=data["training"],
            texts=data["texts"],
            description=data["description"],
            retention_days=data.get("retention_days"),
            actor=actor_of(request),
        )
        return Response(ModelVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class ModelVersionDetail(APIView):
    permission_classes = [IsIntegration | IsAuditor | IsCaseworker]

    @extend_schema(responses={200: ModelVersionSerializer})
    def get(self, request, name, version):
        found = get_object_or_404(model_version_list(), model__name=name, version=version)
        return Response(ModelVersionSerializer(found).data)


class AccessRevoke(APIView):
    """Withdraw a subject's access link (integration or caseworker)."""

    permission_classes = [IsIntegration | IsCaseworker]

    @extend_schema(request=None, responses={204: None})
    def post(self, request, pk):
        decision = get_object_or_404(Decision, pk=pk, kind=Decision.Kind.AUTOMATED)
        subject_access_revoke(decision=decision, actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
