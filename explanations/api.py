"""REST API of decisions and their explanations: record decisions (one, or a bulk), read them,
read an explanation, recompute one (auditors), and a version's global importance.

The decision endpoints live here, with the explanations: a decision is recorded with its pending
explanation, and every decision body says how far its explanation is.
"""

from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import Actor
from config.openapi import refusals
from config.pagination import CursorPagination
from decisions.auth import IsAuditor, IsCaseworker, IsIntegration, actor_of
from decisions.idempotency import Claim, idempotent
from decisions.read_log import API, personal_data_read, reader_role
from decisions.recording import DecisionInput
from decisions.registry import model_version_list
from decisions.serializers import BulkCreateSerializer, DecisionCreateSerializer

from . import selectors
from .filters import BOOLEAN_VALUES, DecisionFilter
from .recompute import explanation_recompute
from .recording import RecordedDecision, Recording, recording_prepare, recording_prepare_one, recording_write
from .serializers import DecisionSerializer, ExplanationSerializer, decision_body
from .shadow import shadow_report

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


# A decision of the demo credit model (demo/credit.py), as the docs and generated clients show it;
# the schema's fuzz tests send it too, so that one of their decisions is recorded.
RECORD_EXAMPLE = OpenApiExample(
    "credit decision",
    request_only=True,
    value={
        "model": "credit-risk",
        "subject_ref": "applicant-7f3a9c",
        "reference": "loan-application-0001",
        "features": {
            "checking_account": "lt_0",
            "duration_months": 24,
            "credit_history": "delayed",
            "purpose": "car_new",
            "credit_amount": 4870,
            "savings": "lt_100",
            "employment_since": "1_to_4",
            "installment_rate": 3,
            "personal_status_sex": "male_divorced",
            "other_debtors": "none",
            "residence_since": 4,
            "property": "none",
            "age_years": 53,
            "other_installment_plans": "none",
            "housing": "free",
            "existing_credits": 2,
            "job": "skilled",
            "dependents": 2,
            "telephone": "none",
            "foreign_worker": "yes",
        },
    },
)

# DecisionFilter refuses an empty value with a 400 (leave the parameter out instead), and takes
# `favourable` as one of four words: django-filter's schema says neither.
LIST_PARAMETERS = [
    *(
        OpenApiParameter(name, {"type": "string", "minLength": 1})
        for name in ("model", "model_version", "subject_ref", "reference", "outcome")
    ),
    OpenApiParameter("favourable", {"type": "string", "enum": sorted(BOOLEAN_VALUES)}),
]


def created_body(recorded: RecordedDecision) -> dict:
    """A new decision's response body, the only one that holds its subject access link."""
    return decision_body(
        recorded.decision,
        explanation_status=recorded.explanation_status,
        access_url=recorded.subject_access_url,
    )


def _write(recording: Recording, claim: Claim | None, body: dict) -> tuple[int, dict]:
    """Write the recording and answer 201 with `body`, built from it before the write (ids and
    links are made in Python, explanations are pending), so that an Idempotency-Key's record of
    the response commits with the decisions."""
    recording_write(recording, idempotency=claim.record(status.HTTP_201_CREATED, body) if claim else None)
    return status.HTTP_201_CREATED, body


def _log_read(request, decision_ids) -> None:
    """Who read these decisions through the API, and in which role (decisions.read_log)."""
    personal_data_read(
        actor=actor_of(request), role=reader_role(request), purpose=API, decision_ids=decision_ids
    )


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
        response = self.get_paginated_response([decision_body(d) for d in decisions])
        _log_read(request, [d.pk for d in decisions])  # one event for the page, every id in it
        return response

    @extend_schema(operation_id="decisions_list", parameters=LIST_PARAMETERS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="decisions_record",
        request=DecisionCreateSerializer,
        examples=[RECORD_EXAMPLE],
        responses={
            201: DecisionSerializer,
            **refusals(
                {
                    409: "a stored response for this Idempotency-Key cannot be replayed",
                    422: "the Idempotency-Key was used with another body",
                    503: "the model could not be loaded: retry later",
                }
            ),
        },
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request):
        def record(claim):
            recording = recording_prepare_one(
                item=DecisionInput.from_raw(request.data), actor=actor_of(request), api_key=request.auth
            )
            return _write(recording, claim, created_body(recording.recorded[0]))

        return idempotent(request, record)


class DecisionBulkCreate(APIView):
    """Record many decisions in one request: all or nothing."""

    permission_classes = [IsIntegration]

    @extend_schema(
        operation_id="decisions_record_bulk",
        request=BulkCreateSerializer,
        responses={
            201: inline_serializer(
                "BulkCreated",
                {"count": serializers.IntegerField(), "decisions": DecisionSerializer(many=True)},
            ),
            **refusals(
                {
                    409: "a stored response for this Idempotency-Key cannot be replayed",
                    422: "the Idempotency-Key was used with another body",
                    503: "the model could not be loaded: retry later",
                }
            ),
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
            items = [DecisionInput.from_raw(raw) for raw in serializer.validated_data["decisions"]]
            recording = recording_prepare(items=items, actor=actor_of(request), api_key=request.auth)
            body = {
                "count": len(recording.recorded),
                "decisions": [created_body(r) for r in recording.recorded],
            }
            return _write(recording, claim, body)

        return idempotent(request, record)


class DecisionDetail(APIView):
    permission_classes = [IsIntegration | IsAuditor | IsCaseworker]

    @extend_schema(operation_id="decision_read", responses={200: DecisionSerializer})
    def get(self, request, pk):
        decision = get_object_or_404(selectors.decision_list(), pk=pk)
        selectors.with_current_explanation([decision])
        body = decision_body(decision)
        _log_read(request, [decision.pk])
        return Response(body)


class ExplanationDetail(APIView):
    """The current explanation of a decision: pending, running, done (with everything) or failed."""

    permission_classes = [IsIntegration | IsAuditor | IsCaseworker]

    @extend_schema(operation_id="decision_explanation_read", responses={200: ExplanationSerializer})
    def get(self, request, pk):
        explanation = selectors.explanation_current(pk)
        if explanation is None:
            return Response({"detail": "no such decision"}, status=404)
        body = ExplanationSerializer(explanation).data
        _log_read(request, [explanation.decision_id])
        return Response(body)


class ExplanationRecompute(APIView):
    """Auditors: recompute and report whether it matches the stored result (bit-exact for trees)."""

    permission_classes = [IsAuditor]

    @extend_schema(
        operation_id="decision_explanation_recompute",
        request=None,
        responses={
            **refusals(
                {
                    400: "the explanation is not done yet",
                    409: "an external scorer's explanation, which Rationale cannot recompute",
                }
            ),
            200: inline_serializer(
                "Recompute",
                {
                    "identical": serializers.BooleanField(),
                    "max_abs_difference": serializers.FloatField(),
                    "method": serializers.CharField(),
                },
            ),
        },
    )
    def post(self, request, pk):
        explanation = selectors.explanation_current(pk)
        if explanation is None:
            return Response({"detail": "no such decision"}, status=404)
        result = explanation_recompute(explanation=explanation, actor=Actor.user(request.user))
        return Response({k: result[k] for k in ("identical", "max_abs_difference", "method", "device")})


class GlobalImportance(APIView):
    """Mean absolute SHAP contribution per feature over a version's explained decisions."""

    permission_classes = [IsIntegration | IsAuditor | IsCaseworker]

    @extend_schema(
        operation_id="model_version_importance_read",
        responses={
            200: inline_serializer(
                "GlobalImportance",
                {
                    "explained_decisions": serializers.IntegerField(),
                    "features": serializers.ListField(child=serializers.DictField()),
                },
            )
        },
    )
    def get(self, request, name, version):
        found = get_object_or_404(model_version_list(), model__name=name, version=version)
        body = selectors.global_importance(found.pk)
        return Response({"model": name, "model_version": version, **body})


class ShadowReport(APIView):
    """How a candidate in shadow would have decided the model's live decisions, before promotion."""

    permission_classes = [IsIntegration | IsAuditor]

    @extend_schema(
        operation_id="model_version_shadow_report_read",
        responses={
            200: inline_serializer(
                "ShadowReport",
                {
                    "model": serializers.CharField(),
                    "version": serializers.CharField(),
                    "shadow": serializers.BooleanField(),
                    "compared_with": serializers.CharField(),
                    "decisions_compared": serializers.IntegerField(),
                    "outcome_agreement": serializers.FloatField(allow_null=True),
                    "became_favourable": serializers.IntegerField(),
                    "became_unfavourable": serializers.IntegerField(),
                    "mean_score": serializers.FloatField(allow_null=True),
                    "mean_live_score": serializers.FloatField(allow_null=True),
                    "mean_abs_score_difference": serializers.FloatField(allow_null=True),
                    "max_abs_score_difference": serializers.FloatField(allow_null=True),
                    "top_reason_agreement": serializers.FloatField(allow_null=True),
                    "first_at": serializers.DateTimeField(allow_null=True),
                    "last_at": serializers.DateTimeField(allow_null=True),
                },
            )
        },
    )
    def get(self, request, name, version):
        found = get_object_or_404(model_version_list(), model__name=name, version=version)
        return Response(shadow_report(found))
