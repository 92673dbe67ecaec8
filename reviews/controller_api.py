"""The integrating system's read of review requests and their outcomes (API key): so that the
controller's own system learns that a person contested, and what a caseworker decided, without
waiting for a webhook. A key sees only the requests about decisions it recorded itself; any
other reference is a 404, as if it did not exist.

What the subject wrote is left out: their statement, their reply, their proposed corrections and
their e-mail address are personal data the controller's decision service does not need to act on
an outcome (GDPR Art. 5(1)(c)); the caseworkers' pages hold them. The caseworker's rationale and
an extension's reason are in: they are the controller's own record of why, and the subject reads
the same rationale on their page (reviews.history).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from config.pagination import CursorPagination
from decisions.auth import IsIntegration

from .controller_selectors import review_requests_of_key
from .models import ReviewRequest

# The statuses in which a review request has closed; its outcome is then the status itself.
OUTCOMES = (
    ReviewRequest.Status.UPHELD,
    ReviewRequest.Status.OVERTURNED,
    ReviewRequest.Status.RECTIFIED,
    ReviewRequest.Status.REJECTED,
)


class ControllerReviewSerializer(serializers.ModelSerializer):
    decision = serializers.UUIDField(source="decision_id")
    # Empty for requests other than a contest: a read-only model field would leave "" out of the enum.
    grounds = serializers.ChoiceField(choices=ReviewRequest.Grounds.choices, allow_blank=True, read_only=True)
    outcome = serializers.SerializerMethodField(
        help_text="how the request closed (upheld, overturned, rectified, rejected); null while open"
    )
    outcome_in_force = serializers.CharField(
        help_text="the decision's outcome now, after every review of it (a person's, where one changed it)"
    )
    human_decision = serializers.UUIDField(
        source="human_decision_id",
        allow_null=True,
        help_text="the decision this review recorded (overturned: a person's; rectified: the model's again)",
    )

    class Meta:
        model = ReviewRequest
        fields = [
            "reference",
            "decision",
            "kind",
            "status",
            "grounds",
            "received_at",
            "due_at",
            "original_due_at",
            "extension_months",
            "extended_at",
            "extension_reason",
            "closed_at",
            "outcome",
            "outcome_in_force",
            "human_decision",
            "rationale",
            "updated_at",
        ]
        read_only_fields = fields  # a response body only: every field is always there

    def get_outcome(self, obj) -> str | None:
        return obj.status if obj.status in OUTCOMES else None


class ControllerReviewParams(serializers.Serializer):
    """The list's filters. A value it cannot read is a 400 naming it, not an empty page."""

    status = serializers.ChoiceField(
        choices=["open", *ReviewRequest.Status.values],
        required=False,
        help_text='one status, or "open" for received, in_review and info_requested',
    )
    kind = serializers.ChoiceField(choices=ReviewRequest.Kind.values, required=False)
    decision = serializers.UUIDField(required=False, help_text="the id of one decision")
    updated_since = serializers.DateTimeField(
        required=False, help_text="changed at or after this time: poll with the last `updated_at` seen"
    )


class ControllerReviewPagination(CursorPagination):
    ordering = ("updated_at", "id")
    page_size = 100


class ControllerReviewList(ListAPIView):
    """Review requests about this key's decisions, by last change, oldest first."""

    permission_classes = [IsIntegration]
    serializer_class = ControllerReviewSerializer
    pagination_class = ControllerReviewPagination

    @extend_schema(operation_id="integration_reviews_list", parameters=[ControllerReviewParams])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        # A plain dict: DRF reads a QueryDict's empty value as "not sent", where an empty filter
        # is refused (leave the parameter out instead).
        params = ControllerReviewParams(data=self.request.query_params.dict())
        params.is_valid(raise_exception=True)
        return review_requests_of_key(self.request.auth, **params.validated_data)


class ControllerReviewDetail(APIView):
    """One review request about this key's decisions; another key's is a 404."""

    permission_classes = [IsIntegration]

    @extend_schema(operation_id="integration_review_read", responses={200: ControllerReviewSerializer})
    def get(self, request, reference):
        found = review_requests_of_key(request.auth).filter(reference=reference).first()
        if found is None:
            raise exceptions.NotFound("no such review request")
        return Response(ControllerReviewSerializer(found).data)
