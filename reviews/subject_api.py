"""The data subject's API: their decision, and their requests about it.

The access token of their decision goes in the `X-Access-Token` header (not in the path, so it
stays out of access logs); it opens that one decision and its requests.
"""

from __future__ import annotations

from django.utils.translation import get_language
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import Action
from audit.services import Actor, audit_record
from config.openapi import refusals
from decisions.models import Decision
from decisions.selectors import effective_decision
from decisions.subject_access import IsSubject, SubjectTokenAuthentication

from .presentation import decision_presentation
from .selectors import review_request_of_decision, review_requests_of_decision
from .serializers import RequestCreateSerializer, SubjectRequestSerializer, TextSerializer
from .services.requests import review_request_create, review_subject_reply


class SubjectView(APIView):
    authentication_classes = [SubjectTokenAuthentication]
    permission_classes = [IsSubject]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response


def subject_decision_body(decision: Decision) -> dict:
    shown = decision_presentation(decision)
    current = effective_decision(decision)
    explanation = shown["explanation"]
    return {
        "id": str(decision.pk),
        "outcome": decision.outcome,
        "decided_at": decision.decided_at.isoformat(),
        "outcome_in_force": current.outcome,
        "reviewed_by_a_person": current.pk != decision.pk,
        "controller": decision.model_version.controller,
        "purpose": decision.model_version.purpose,
        "significance": decision.model_version.significance,
        "consequences": decision.model_version.consequences,
        "legal_basis": decision.model_version.legal_basis,
        "contact": decision.model_version.contact,
        "explanation_status": explanation.status if explanation else None,
        # A regression's score against its cut-off (None for a classifier), and how the reasons
        # were produced: exactly, estimated, or supplied by the controller's own system.
        "score": shown["score"],
        "how_explained": shown["method_sentence"],
        "reasons": [r["text"] for r in shown["reasons"]],
        "data_used": [
            {"feature": r["name"], "label": r["label"], "value": r["value"]} for r in shown["data_rows"]
        ],
        "counterfactuals": shown["counterfactuals"],
        "requests": SubjectRequestSerializer(review_requests_of_decision(decision), many=True).data,
    }


class SubjectDecision(SubjectView):
    """The decision the token opens: outcome, reasons, data used, counterfactuals, requests."""

    @extend_schema(operation_id="subject_decision_read", responses={200: dict})
    def get(self, request):
        decision = request.user.decision
        audit_record(
            actor=Actor.subject(decision.pk),
            action=Action.DECISION_VIEWED,
            object_type="decision",
            object_id=decision.pk,
            data={"page": "api"},
        )
        return Response(subject_decision_body(decision))


class SubjectRequests(SubjectView):
    """Express a view, contest, ask for human intervention, or propose corrections (`rectify`)."""

    @extend_schema(
        operation_id="subject_request_create",
        request=RequestCreateSerializer,
        responses={
            201: SubjectRequestSerializer,
            **refusals({409: "a request of this kind is open already, or the outcome was replaced"}),
        },
    )
    def post(self, request):
        serializer = RequestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        created = review_request_create(
            decision=request.user.decision,
            kind=data["kind"],
            grounds=data.get("grounds", ""),
            statement=data.get("statement", ""),
            contact_email=data.get("contact_email", ""),
            corrections=data.get("corrections"),
            access_token=request.auth,
            language=get_language(),
        )
        found = review_request_of_decision(request.user.decision, created.reference)
        return Response(SubjectRequestSerializer(found).data, status=status.HTTP_201_CREATED)


def _own_request(request, reference: str):
    found = review_request_of_decision(request.user.decision, reference)
    if found is None:
        raise exceptions.NotFound("no such request for this decision")
    return found


class SubjectRequestDetail(SubjectView):
    @extend_schema(operation_id="subject_request_read", responses={200: SubjectRequestSerializer})
    def get(self, request, reference):
        return Response(SubjectRequestSerializer(_own_request(request, reference)).data)


class SubjectRequestReply(SubjectView):
    @extend_schema(
        operation_id="subject_request_reply",
        request=TextSerializer,
        responses={200: SubjectRequestSerializer, **refusals({409: "no question is open on this request"})},
    )
    def post(self, request, reference):
        found = _own_request(request, reference)
        serializer = TextSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        review_subject_reply(request=found, statement=serializer.validated_data["statement"])
        return Response(SubjectRequestSerializer(review_request_of_decision(found.decision, reference)).data)
