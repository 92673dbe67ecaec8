"""REST API of the Article 22 workflow, for the same actions as the pages.

Two scopes:
- a data subject, with the access token of their decision in the `X-Access-Token` header (not in
  the path, so it stays out of access logs); the token opens that one decision and its requests;
- caseworkers (signed-in session, group `caseworker`) for the queue and the review actions.
Integrations and caseworkers may revoke a subject's access link.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import get_language
from drf_spectacular.utils import extend_schema
from rest_framework import authentication, exceptions, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import Action
from audit.services import Actor, audit_record

from . import reviews
from .api import actor_of
from .auth import IsCaseworker, IsIntegration
from .models import CaseAction, Decision, ReviewRequest
from .portal_views import client_address, decision_presentation, token_attempt_failed, token_attempts_blocked
from .selectors import decision_for_token

TOKEN_HEADER = "X-Access-Token"  # noqa: S105 - a header name, not a secret


# ---------------------------------------------------------------------------- subject scope
class SubjectPrincipal:
    """The bearer of one decision's access token: not a user, scoped to that decision."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, decision: Decision):
        self.decision = decision
        self.pk = None

    def __str__(self) -> str:
        return f"subject of {self.decision.pk}"


class SubjectTokenAuthentication(authentication.BaseAuthentication):
    """`X-Access-Token: <token>`; wrong, expired and revoked tokens are counted and throttled
    exactly as on the pages (same cache key per client address)."""

    def authenticate(self, request):
        token = request.META.get("HTTP_X_ACCESS_TOKEN", "").strip()
        if not token:
            return None
        address = client_address(request)
        if token_attempts_blocked(address):
            raise exceptions.Throttled(detail="too many invalid access tokens; wait and try again")
        decision = decision_for_token(token)
        if decision is None:
            token_attempt_failed(address)
            # 404 rather than 401: a wrong token and a withdrawn decision look the same.
            raise exceptions.NotFound("no decision for this access token")
        return SubjectPrincipal(decision), token

    def authenticate_header(self, request):
        return TOKEN_HEADER


class IsSubject(permissions.BasePermission):
    message = f"send the access token from your decision notice in the {TOKEN_HEADER} header"
    openapi_scheme = "SubjectAccessToken"

    def has_permission(self, request, view):
        return isinstance(request.user, SubjectPrincipal)


class SubjectView(APIView):
    authentication_classes = [SubjectTokenAuthentication]
    permission_classes = [IsSubject]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response


# ---------------------------------------------------------------------------- bodies
class ActionSerializer(serializers.ModelSerializer):
    class Meta:
        model = CaseAction
        fields = ["kind", "rationale", "created_at"]


class SubjectRequestSerializer(serializers.ModelSerializer):
    history = serializers.SerializerMethodField()
    new_outcome = serializers.CharField(source="human_decision.outcome", default=None)

    class Meta:
        model = ReviewRequest
        fields = [
            "reference",
            "kind",
            "grounds",
            "status",
            "statement",
            "received_at",
            "due_at",
            "extension_months",
            "extension_reason",
            "info_question",
            "closed_at",
            "rationale",
            "new_outcome",
            "history",
        ]

    def get_history(self, obj) -> list[dict]:
        # The subject sees the steps, not who took the case.
        return ActionSerializer(
            [a for a in obj.actions.all() if a.kind != CaseAction.Kind.TAKEN], many=True
        ).data


class CaseSerializer(SubjectRequestSerializer):
    decision = serializers.UUIDField(source="decision_id")
    model = serializers.CharField(source="decision.model_version.model.name")
    model_version = serializers.CharField(source="decision.model_version.version")
    outcome = serializers.CharField(source="decision.outcome")
    assignee = serializers.CharField(source="assignee.username", default=None)
    human_decision = serializers.UUIDField(source="human_decision_id", default=None)
    overdue = serializers.SerializerMethodField()

    class Meta(SubjectRequestSerializer.Meta):
        fields = [
            *SubjectRequestSerializer.Meta.fields,
            "decision",
            "model",
            "model_version",
            "outcome",
            "assignee",
            "human_decision",
            "overdue",
        ]

    def get_history(self, obj) -> list[dict]:
        return [
            {
                "kind": a.kind,
                "actor": a.actor.username if a.actor_id else None,
                "rationale": a.rationale,
                "created_at": a.created_at.isoformat(),
            }
            for a in obj.actions.all()
        ]

    def get_overdue(self, obj) -> bool:
        return reviews.is_overdue(obj)


class RequestCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ReviewRequest.Kind.values)
    grounds = serializers.ChoiceField(choices=ReviewRequest.Grounds.values, required=False, allow_blank=True)
    statement = serializers.CharField(required=False, allow_blank=True, max_length=reviews.MAX_TEXT)
    contact_email = serializers.EmailField(required=False, allow_blank=True)


class TextSerializer(serializers.Serializer):
    statement = serializers.CharField(max_length=reviews.MAX_TEXT)


class RationaleSerializer(serializers.Serializer):
    rationale = serializers.CharField(max_length=reviews.MAX_TEXT)


class OverturnSerializer(RationaleSerializer):
    new_outcome = serializers.CharField(max_length=64)


class AskSerializer(serializers.Serializer):
    question = serializers.CharField(max_length=reviews.MAX_TEXT)


class ExtendSerializer(serializers.Serializer):
    months = serializers.IntegerField()
    reason = serializers.CharField(max_length=reviews.MAX_TEXT)


def subject_decision_body(decision: Decision) -> dict:
    shown = decision_presentation(decision)
    current = reviews.effective_decision(decision)
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
        "reasons": [r["text"] for r in shown["reasons"]],
        "data_used": [
            {"feature": r["name"], "label": r["label"], "value": r["value"]} for r in shown["data_rows"]
        ],
        "counterfactuals": shown["counterfactuals"],
        "requests": SubjectRequestSerializer(reviews.review_requests_of_decision(decision), many=True).data,
    }


# ---------------------------------------------------------------------------- subject endpoints
class SubjectDecision(SubjectView):
    """The decision the token opens: outcome, reasons, data used, counterfactuals, requests."""

    @extend_schema(responses={200: dict})
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
    """Express a view, contest, or ask for human intervention."""

    @extend_schema(
        request=RequestCreateSerializer,
        responses={201: SubjectRequestSerializer},
    )
    def post(self, request):
        serializer = RequestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        created = reviews.review_request_create(
            decision=request.user.decision,
            kind=data["kind"],
            grounds=data.get("grounds", ""),
            statement=data.get("statement", ""),
            contact_email=data.get("contact_email", ""),
            access_token=request.auth,
            language=get_language(),
        )
        found = reviews.review_request_of_decision(request.user.decision, created.reference)
        return Response(SubjectRequestSerializer(found).data, status=status.HTTP_201_CREATED)


class SubjectRequestDetail(SubjectView):
    @extend_schema(responses={200: SubjectRequestSerializer})
    def get(self, request, reference):
        found = reviews.review_request_of_decision(request.user.decision, reference)
        if found is None:
            raise exceptions.NotFound("no such request for this decision")
        return Response(SubjectRequestSerializer(found).data)


class SubjectRequestReply(SubjectView):
    @extend_schema(request=TextSerializer, responses={200: SubjectRequestSerializer})
    def post(self, request, reference):
        found = reviews.review_request_of_decision(request.user.decision, reference)
        if found is None:
            raise exceptions.NotFound("no such request for this decision")
        serializer = TextSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reviews.review_subject_reply(request=found, statement=serializer.validated_data["statement"])
        return Response(
            SubjectRequestSerializer(reviews.review_request_of_decision(found.decision, reference)).data
        )


# ---------------------------------------------------------------------------- caseworker endpoints
class QueueParamsSerializer(serializers.Serializer):
    """The queue's filters. A value it cannot read is a 400 naming it, not an empty queue."""

    model = serializers.CharField(required=False, default="", allow_blank=True, max_length=64)
    kind = serializers.ChoiceField(
        choices=ReviewRequest.Kind.values, required=False, default="", allow_blank=True
    )
    status = serializers.ChoiceField(choices=reviews.QUEUE_STATUSES, required=False, default="open")
    assignee = serializers.RegexField(
        r"^(me|none|\d+)$",
        required=False,
        default="",
        allow_blank=True,
        help_text='"me", "none" or a user id',
        error_messages={"invalid": '"me", "none" or a user id'},
    )


class ReviewQueue(APIView):
    """Requests by due date (open ones unless `status` says otherwise)."""

    permission_classes = [IsCaseworker]

    @extend_schema(parameters=[QueueParamsSerializer], responses={200: CaseSerializer(many=True)})
    def get(self, request):
        params = QueueParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        qs = reviews.review_queue(**params.validated_data, user=request.user).prefetch_related(
            "actions__actor"
        )[:500]
        return Response(CaseSerializer(qs, many=True).data)


def _case(reference: str) -> ReviewRequest:
    found = reviews.review_case(reference)
    if found is None:
        raise exceptions.NotFound("no such case")
    return found


class ReviewDetail(APIView):
    permission_classes = [IsCaseworker]

    @extend_schema(responses={200: CaseSerializer})
    def get(self, request, reference):
        found = _case(reference)
        audit_record(
            actor=Actor.user(request.user),
            action=Action.DECISION_CASE_VIEWED,
            object_type="decision",
            object_id=found.decision_id,
            data={"reference": found.reference, "via": "api"},
        )
        return Response(CaseSerializer(found).data)


def _case_action(serializer_class, perform):
    class CaseAction_(APIView):
        permission_classes = [IsCaseworker]

        @extend_schema(request=serializer_class, responses={200: CaseSerializer})
        def post(self, request, reference):
            found = _case(reference)
            data = {}
            if serializer_class is not None:
                serializer = serializer_class(data=request.data)
                serializer.is_valid(raise_exception=True)
                data = serializer.validated_data
            perform(found, request.user, data)
            return Response(CaseSerializer(reviews.review_case(reference)).data)

    return CaseAction_


class ReviewTake(_case_action(None, lambda case, user, data: reviews.review_take(request=case, user=user))):
    """Take the case (assign it to yourself)."""


class ReviewUphold(
    _case_action(
        RationaleSerializer,
        lambda case, user, data: reviews.review_uphold(request=case, user=user, rationale=data["rationale"]),
    )
):
    """Uphold the decision, with the rationale the subject reads."""


class ReviewOverturn(
    _case_action(
        OverturnSerializer,
        lambda case, user, data: reviews.review_overturn(
            request=case, user=user, new_outcome=data["new_outcome"], rationale=data["rationale"]
        ),
    )
):
    """Overturn: records a human decision superseding the one reviewed."""


class ReviewAsk(
    _case_action(
        AskSerializer,
        lambda case, user, data: reviews.review_request_information(
            request=case, user=user, question=data["question"]
        ),
    )
):
    """Ask the subject for information."""


class ReviewExtend(
    _case_action(
        ExtendSerializer,
        lambda case, user, data: reviews.review_extend(
            request=case, user=user, months=data["months"], reason=data["reason"]
        ),
    )
):
    """Extend the deadline by one or two months (Art. 12(3)), with the reason."""


class AccessRevoke(APIView):
    """Withdraw a subject's access link (integration or caseworker)."""

    permission_classes = [IsIntegration | IsCaseworker]

    @extend_schema(request=None, responses={204: None})
    def post(self, request, pk):
        decision = get_object_or_404(Decision, pk=pk, kind=Decision.Kind.AUTOMATED)
        reviews.subject_access_revoke(decision=decision, actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("subject/decision/", SubjectDecision.as_view(), name="api-subject-decision"),
    path("subject/requests/", SubjectRequests.as_view(), name="api-subject-requests"),
    path("subject/requests/<str:reference>/", SubjectRequestDetail.as_view(), name="api-subject-request"),
    path(
        "subject/requests/<str:reference>/reply/",
        SubjectRequestReply.as_view(),
        name="api-subject-request-reply",
    ),
    path("reviews/", ReviewQueue.as_view(), name="api-reviews"),
    path("reviews/<str:reference>/", ReviewDetail.as_view(), name="api-review"),
    path("reviews/<str:reference>/take/", ReviewTake.as_view(), name="api-review-take"),
    path("reviews/<str:reference>/uphold/", ReviewUphold.as_view(), name="api-review-uphold"),
    path("reviews/<str:reference>/overturn/", ReviewOverturn.as_view(), name="api-review-overturn"),
    path("reviews/<str:reference>/request-information/", ReviewAsk.as_view(), name="api-review-ask"),
    path("reviews/<str:reference>/extend/", ReviewExtend.as_view(), name="api-review-extend"),
    path("decisions/<uuid:pk>/access/revoke/", AccessRevoke.as_view(), name="api-decision-access-revoke"),
]
