"""The caseworker's API (signed-in session, group `caseworker`): the queue, a case, and the
review actions, for the same actions as the pages."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import Action
from audit.services import Actor, audit_record
from config.errors import ApplicationError
from config.openapi import refusals
from decisions.auth import IsCaseworker

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
