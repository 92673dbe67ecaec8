"""Logging: structured JSON lines carrying the request id, in the web and worker processes."""

from .environment import env  # noqa: F401
