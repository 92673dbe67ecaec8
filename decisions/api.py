"""REST API of the ledger. Views validate, call one service, and shape the response."""

from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import Actor

from . import selectors, services
from .auth import IsAuditor, IsCaseworker, IsIntegration
from .filters import DecisionFilter
from .idempotency import Claim, idempotent
from .models import ApiKey
from .serializers import (
    BulkCreateSerializer,
    DecisionCreateSerializer,
    DecisionSerializer,
    ModelRegisterSerializer,
    ModelVersionSerializer,
    decision_body,
)

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "a retry with the same key and body returns the first response; the same key with another "
        "body is 422; an empty key is 400 (send no header instead)"
    ),
)


def actor_of(request) -> Actor:
    if isinstance(request.auth, ApiKey):
        return Actor.api_key(request.auth)
    return Actor.user(request.user)


def decision_body_of(recorded: services.RecordedDecision) -> dict:
    """A new decision's response body, the only one that holds its subject access link."""
    return decision_body(
        recorded.decision, explanation=recorded.explanation, access_url=recorded.subject_access_url
    )


def _write(prepared: services.PreparedDecisions, claim: Claim | None, body: dict) -> tuple[int, dict]:
    """Write prepared decisions and answer 201 with `body`, built from them before the write
    (their ids and links are made in Python, their explanations are pending), so that an
    Idempotency-Key's record of it is written in the same statement as the decisions."""
    services.decision_write(prepared, also=claim.record(status.HTTP_201_CREATED, body) if claim else None)
    return status.HTTP_201_CREATED, body


class DecisionPagination(CursorPagination):
    ordering = ("-decided_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class DecisionListCreate(ListAPIView):
    """List decisions (integration, caseworkers, auditors) or record one (integration)."""

    pagination_class = DecisionPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = DecisionFilter
    serializer_class = DecisionSerializer

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsIntegration()]
        return [(IsIntegration | IsAuditor | IsCaseworker)()]

    def get_queryset(self):
        return selectors.decision_list()

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        decisions = selectors.with_current_explanation(page)
        return self.get_paginated_response([decision_body(d) for d in decisions])

    @extend_schema(
        request=DecisionCreateSerializer,
        responses={201: DecisionSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request):
        def record(claim):
            item = DecisionCreateSerializer.plain_input(request.data)
            if item is None:
                serializer = DecisionCreateSerializer(data=request.data)
                serializer.is_valid(raise_exception=True)
                item = serializer.to_input()
            prepared = services.decision_prepare_one(item=item, actor=actor_of(request), api_key=request.auth)
            return _write(prepared, claim, decision_body_of(prepared.recorded[0]))

        return idempotent(request, record)


class DecisionBulkCreate(APIView):
    """Record many decisions in one request: all or nothing."""

    permission_classes = [IsIntegration]

    @extend_schema(
        request=BulkCreateSerializer,
        responses={
            201: inline_serializer(
                "BulkCreated",
                {"count": serializers.IntegerField(), "decisions": DecisionSerializer(many=True)},
            )
        },
        parameters=[IDEMPOTENCY_HEADER],
        description=(
            "All or nothing: if any decision is invalid, none is recorded and the 400 response "
            "names every bad field under errors.decisions.<index>."
        ),
    )
    def post(self, request):
        def record(claim):
            serializer = BulkCreateSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            # The service checks every item (shape, model, features) so that one 400 names
            # every bad field of every decision.
            items = [services.DecisionInput.from_raw(raw) for raw in serializer.validated_data["decisions"]]
            prepared = services.decision_prepare(items=items, actor=actor_of(request), api_key=request.auth)
            body = {
                "count": len(prepared.recorded),
                "decisions": [decision_body_of(r) for r in prepared.recorded],
            }
            return _write(prepared, claim, body)

        return idempotent(request, record)


class DecisionDetail(APIView):
    permission_classes = [IsIntegration | IsAuditor | IsCaseworker]

    @extend_schema(responses={200: DecisionSerializer})
    def get(self, request, pk):
        decision = get_object_or_404(selectors.decision_list(), pk=pk)
        selectors.with_current_explanation([decision])
        return Response(decision_body(decision))


class ModelListCreate(APIView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsIntegration()]
        return [(IsIntegration | IsAuditor | IsCaseworker)()]

    @extend_schema(responses={200: ModelVersionSerializer(many=True)})
    def get(self, request):
        return Response(ModelVersionSerializer(selectors.model_version_list(), many=True).data)

    @extend_schema(
        request={"multipart/form-data": ModelRegisterSerializer}, responses={201: ModelVersionSerializer}
    )
    def post(self, request):
        serializer = ModelRegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        version = services.model_register(
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
        found = get_object_or_404(selectors.model_version_list(), model__name=name, version=version)
        return Response(ModelVersionSerializer(found).data)
