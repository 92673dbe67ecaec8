"""The webhook API's routes, added to /api/v1/ by config/urls.py. Ids are read by the views
(webhooks.api), not by an <int:...> converter: a path that names nothing must still be refused
to a caller without the API key (401/403) before it is a 404."""

from django.urls import path

from config import converters  # noqa: F401 - registers <text:...>

from . import api

api_urlpatterns = [
    path("webhooks/event-types/", api.EventTypes.as_view(), name="api-webhook-event-types"),
    path("webhooks/endpoints/", api.EndpointListCreate.as_view(), name="api-webhook-endpoints"),
    path("webhooks/endpoints/<text:pk>/", api.EndpointDetail.as_view(), name="api-webhook-endpoint"),
    path(
        "webhooks/endpoints/<text:pk>/rotate-secret/",
        api.EndpointRotateSecret.as_view(),
        name="api-webhook-endpoint-rotate-secret",
    ),
    path(
        "webhooks/endpoints/<text:pk>/replay-dead/",
        api.EndpointReplayDead.as_view(),
        name="api-webhook-endpoint-replay-dead",
    ),
    path(
        "webhooks/endpoints/<text:pk>/deliveries/", api.DeliveryList.as_view(), name="api-webhook-deliveries"
    ),
    path("webhooks/deliveries/<text:pk>/", api.DeliveryDetail.as_view(), name="api-webhook-delivery"),
    path(
        "webhooks/deliveries/<text:pk>/replay/",
        api.DeliveryReplay.as_view(),
        name="api-webhook-delivery-replay",
    ),
]
