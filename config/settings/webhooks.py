"""Webhooks: delivery of events to the controller's endpoints (webhooks/)."""

from .environment import env  # noqa: F401
