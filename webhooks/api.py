"""REST API of webhooks, for the integrating system's API key only: its endpoints, their secrets,
their deliveries with every attempt, replays, and the catalogue of event types.

A key sees only its own endpoints: another key's answer 404, as if they did not exist.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from config.openapi import refusals
from config.pagination import CursorPagination
from decisions.auth import IsIntegration, actor_of

from . import selectors, services
from .catalogue import EVENT_TYPES
from .models import Delivery, Endpoint
from .serializers import (
    DeliveryDetailSerializer,
    DeliverySerializer,
    EndpointCreateSerializer,
    EndpointSerializer,
    EndpointUpdateSerializer,
    EndpointWithSecretSerializer,
)

MAX_ID = 2**63 - 1  # a larger id names nothing (and must not reach the database)

Replayed = inline_serializer("WebhookReplayed", {"replayed": serializers.IntegerField()})
STATUS_PARAMETER = OpenApiParameter(
    "status",
    {"type": "string", "enum": list(Delivery.Status.values)},
    description="only deliveries in this state",
)
ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)


def _id(value: str) -> int:
    if not value.isdigit() or int(value) > MAX_ID:
        raise Http404
    return int(value)


def own_endpoint(request, pk: str) -> Endpoint:
    """The caller's endpoint `pk`, or 404: another key's is never found."""
    found = selectors.endpoint_list(api_key=request.auth).filter(pk=_id(pk)).first()
    if found is None:
        raise Http404
    return found


def own_delivery(request, pk: str, *, with_attempts: bool = False) -> Delivery:
    """The caller's delivery `pk` (one of its endpoints'), or 404."""
    found = (
        selectors.delivery_of_key(api_key=request.auth, with_attempts=with_attempts)
        .filter(pk=_id(pk))
        .first()
    )
    if found is None:
        raise Http404
    return found


def with_secret(endpoint: Endpoint, secret: str) -> dict:
    """The endpoint's body with its secret: only in the answer that made the secret."""
    return {**EndpointSerializer(endpoint).data, "secret": secret}


class EventTypes(APIView):
    """The event types an endpoint can subscribe to."""

    permission_classes = [IsIntegration]

    @extend_schema(
        operation_id="webhooks_event_types",
        responses={
            200: inline_serializer(
                "WebhookEventType",
                {"type": serializers.CharField(), "description": serializers.CharField()},
                many=True,
            )
        },
    )
    def get(self, request):
        return Response([{"type": name, "description": text} for name, text in EVENT_TYPES.items()])


class EndpointListCreate(APIView):
    permission_classes = [IsIntegration]

    @extend_schema(operation_id="webhooks_endpoints_list", responses={200: EndpointSerializer(many=True)})
    def get(self, request):
        return Response(EndpointSerializer(selectors.endpoint_list(api_key=request.auth), many=True).data)

    @extend_schema(
        operation_id="webhooks_endpoints_create",
        request=EndpointCreateSerializer,
        responses={201: EndpointWithSecretSerializer},
        description="Registers an endpoint. The response holds its signing secret, shown this once.",
    )
    def post(self, request):
        given = EndpointCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        endpoint, secret = services.endpoint_create(
            api_key=request.auth, actor=actor_of(request), **given.validated_data
        )
        return Response(
            with_secret(endpoint, secret),
            status=201,
        )


class EndpointDetail(APIView):
    permission_classes = [IsIntegration]

    @extend_schema(
        operation_id="webhooks_endpoint_read", parameters=[ID], responses={200: EndpointSerializer}
    )
    def get(self, request, pk):
        return Response(EndpointSerializer(own_endpoint(request, pk)).data)

    @extend_schema(
        operation_id="webhooks_endpoint_update",
        parameters=[ID],
        request=EndpointUpdateSerializer,
        responses={200: EndpointSerializer},
    )
    def patch(self, request, pk):
        endpoint = own_endpoint(request, pk)
        given = EndpointUpdateSerializer(data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(
            endpoint=endpoint, changes=given.validated_data, actor=actor_of(request)
        )
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(operation_id="webhooks_endpoint_disable", parameters=[ID], responses={204: None})
    def delete(self, request, pk):
        """Disables the endpoint: nothing more is sent to it; its deliveries stay readable."""
        endpoint = own_endpoint(request, pk)
        services.endpoint_update(endpoint=endpoint, changes={"enabled": False}, actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateSecret(APIView):
    permission_classes = [IsIntegration]

    @extend_schema(
        operation_id="webhooks_endpoint_rotate_secret",
        parameters=[ID],
        request=None,
        responses={200: EndpointWithSecretSerializer},
        description=(
            "A new secret, shown this once. Until previous_secret_valid_until every message carries "
            "a signature by each secret."
        ),
    )
    def post(self, request, pk):
        endpoint, secret = services.endpoint_rotate_secret(
            endpoint=own_endpoint(request, pk), actor=actor_of(request)
        )
        return Response(with_secret(endpoint, secret))


class DeliveryPagination(CursorPagination):
    ordering = ("-id",)
    page_size = 50


class DeliveryList(ListAPIView):
    """An endpoint's deliveries, newest first."""

    permission_classes = [IsIntegration]
    pagination_class = DeliveryPagination
    serializer_class = DeliverySerializer

    def get_queryset(self):
        wanted = self.request.query_params.get("status")
        if wanted is not None and wanted not in Delivery.Status.values:
            raise ValidationError({"status": f"one of {', '.join(Delivery.Status.values)}"})
        return selectors.delivery_list(endpoint=own_endpoint(self.request, self.kwargs["pk"]), status=wanted)

    @extend_schema(operation_id="webhooks_deliveries_list", parameters=[ID, STATUS_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class DeliveryDetail(APIView):
    permission_classes = [IsIntegration]

    @extend_schema(
        operation_id="webhooks_delivery_read", parameters=[ID], responses={200: DeliveryDetailSerializer}
    )
    def get(self, request, pk):
        return Response(DeliveryDetailSerializer(own_delivery(request, pk, with_attempts=True)).data)


class DeliveryReplay(APIView):
    permission_classes = [IsIntegration]

    @extend_schema(
        operation_id="webhooks_delivery_replay",
        parameters=[ID],
        request=None,
        responses={202: Replayed, **refusals({409: "the delivery is already waiting to be sent"})},
        description="Sends the delivery again, with a fresh budget of attempts and the same webhook-id.",
    )
    def post(self, request, pk):
        delivery = own_delivery(request, pk)
        replayed = services.deliveries_replay(
            endpoint=delivery.endpoint, delivery_ids=[delivery.pk], actor=actor_of(request)
        )
        if not replayed:
            return Response(
                {
                    "detail": "already waiting to be sent",
                    "errors": {"status": f"the delivery is {delivery.status}"},
                },
                status=status.HTTP_409_CONFLICT,
            )
        return Response({"replayed": replayed}, status=status.HTTP_202_ACCEPTED)


class EndpointReplayDead(APIView):
    permission_classes = [IsIntegration]

    @extend_schema(
        operation_id="webhooks_endpoint_replay_dead",
        parameters=[ID],
        request=None,
        responses={202: Replayed},
        description="Sends every dead-lettered delivery of the endpoint again.",
    )
    def post(self, request, pk):
        endpoint = own_endpoint(request, pk)
        replayed = services.deliveries_replay(endpoint=endpoint, delivery_ids=None, actor=actor_of(request))
        return Response({"replayed": replayed}, status=status.HTTP_202_ACCEPTED)
