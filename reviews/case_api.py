"""The caseworker's API (signed-in session, group `caseworker`): the queue, a case, and the
review actions, for the same actions as the pages."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import Action
from audit.services import Actor, audit_record
from config.errors import ApplicationError
from config.openapi import refusals
from decisions.auth import IsCaseworker
from decisions.models import Decision

from . import selectors
from .models import ReviewRequest
from .serializers import (
    AskSerializer,
    CaseSerializer,
    ExtendSerializer,
    OverturnSerializer,
    RationaleSerializer,
)
from .services import casework
from .services.referrals import referral_take
from .services.staff import review_open
from .services.steps import MAX_TEXT


class QueueParamsSerializer(serializers.Serializer):
    """The queue's filters. A value it cannot read is a 400 naming it, not an empty queue."""

    model = serializers.CharField(required=False, default="", allow_blank=True, max_length=64)
    kind = serializers.ChoiceField(
        choices=ReviewRequest.Kind.values, required=False, default="", allow_blank=True
    )
    status = serializers.ChoiceField(choices=selectors.QUEUE_STATUSES, required=False, default="open")
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

    @extend_schema(
        operation_id="reviews_list",
        parameters=[QueueParamsSerializer],
        responses={200: CaseSerializer(many=True)},
    )
    def get(self, request):
        # A plain dict: DRF reads a QueryDict's empty value as "not sent", so `?status=` listed the
        # open cases where the schema (and the other filters) refuse an empty value.
        params = QueueParamsSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        qs = selectors.review_queue(**params.validated_data, user=request.user).prefetch_related(
            "actions__actor"
        )[:500]
        return Response([_case_data(case) for case in qs])


def _case(reference: str) -> ReviewRequest:
    found = selectors.review_case(reference)
    if found is None:
        raise exceptions.NotFound("no such case")
    return found


class ReviewDetail(APIView):
    permission_classes = [IsCaseworker]

    @extend_schema(operation_id="review_read", responses={200: CaseSerializer})
    def get(self, request, reference):
        found = _case(reference)
        audit_record(
            actor=Actor.user(request.user),
            action=Action.DECISION_CASE_VIEWED,
            object_type="decision",
            object_id=found.decision_id,
            data={"reference": found.reference, "via": "api"},
        )
        return Response(_case_data(found))


# A restricted decision's personal data (oversight.erasure) is not given to caseworkers.
PERSONAL_FIELDS = ("statement", "corrections", "features")


def _case_data(case: ReviewRequest) -> dict:
    data = CaseSerializer(case).data
    if data["restricted"]:
        data.update({name: None for name in PERSONAL_FIELDS if name in data})
    return data


# A review action's refusals: the service's own (config.errors), whatever the body.
CASE_ACTION_REFUSALS = refusals(
    {
        400: "invalid input: `errors` names each bad field",
        409: "the case is decided, restricted, or not in a state for this action",
    }
)


def _case_action(operation_id, serializer_class, perform):
    class CaseAction_(APIView):
        permission_classes = [IsCaseworker]

        @extend_schema(
            operation_id=operation_id,
            request=serializer_class,
            responses={200: CaseSerializer, **CASE_ACTION_REFUSALS},
        )
        def post(self, request, reference):
            found = _case(reference)
            if found.decision.restricted_at is not None:
                raise ApplicationError(
                    "decision restricted",
                    fields={
                        "status": "this decision is restricted on the person's request: it cannot be worked on"
                    },
                    status_code=409,
                )
            data = {}
            if serializer_class is not None:
                serializer = serializer_class(data=request.data)
                serializer.is_valid(raise_exception=True)
                data = serializer.validated_data
            perform(found, request.user, data)
            return Response(_case_data(selectors.review_case(reference)))

    return CaseAction_


class ReviewTake(
    _case_action("review_take", None, lambda case, user, data: casework.review_take(request=case, user=user))
):
    """Take the case (assign it to yourself)."""


class ReviewUphold(
    _case_action(
        "review_uphold",
        RationaleSerializer,
        lambda case, user, data: casework.review_uphold(request=case, user=user, rationale=data["rationale"]),
    )
):
    """Uphold the decision, with the rationale the subject reads."""


class ReviewOverturn(
    _case_action(
        "review_overturn",
        OverturnSerializer,
        lambda case, user, data: casework.review_overturn(
            request=case, user=user, new_outcome=data["new_outcome"], rationale=data["rationale"]
        ),
    )
):
    """Overturn: records a human decision superseding the one reviewed."""


class ReviewAsk(
    _case_action(
        "review_request_information",
        AskSerializer,
        lambda case, user, data: casework.review_request_information(
            request=case, user=user, question=data["question"]
        ),
    )
):
    """Ask the subject for information."""


class ReviewExtend(
    _case_action(
        "review_extend",
        ExtendSerializer,
        lambda case, user, data: casework.review_extend(
            request=case, user=user, months=data["months"], reason=data["reason"]
        ),
    )
):
    """Extend the deadline by one or two months (Art. 12(3)), with the reason."""


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=MAX_TEXT, help_text="why a person should review this decision (at least 20 characters)"
    )


class DecisionReviewOpen(APIView):
    """Open a review of any decision, with your reason: it joins the queue, due in STAFF_REVIEW_DAYS.
    (Auditors open one on the decision's page.)"""

    permission_classes = [IsCaseworker]

    @extend_schema(
        operation_id="decision_review_open",
        request=ReasonSerializer,
        responses={
            201: CaseSerializer,
            **refusals({409: "a review of this decision is open: `errors` names it"}),
        },
    )
    def post(self, request, pk):
        decision = get_object_or_404(Decision, pk=pk)
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        case = review_open(decision=decision, user=request.user, reason=serializer.validated_data["reason"])
        return Response(_case_data(selectors.review_case(case.reference)), status=201)


class DecisionReferralTake(APIView):
    """Take a decision referred before effect: its review opens, assigned to you."""

    permission_classes = [IsCaseworker]

    @extend_schema(
        operation_id="decision_referral_take",
        request=None,
        responses={
            200: CaseSerializer,
            **refusals({409: "not waiting for review, or taken by someone else"}),
        },
    )
    def post(self, request, pk):
        decision = get_object_or_404(Decision, pk=pk)
        case = referral_take(decision=decision, user=request.user)
        return Response(_case_data(selectors.review_case(case.reference)))
