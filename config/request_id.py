"""A request id on every log line of a request, and of the tasks it enqueued.

The middleware takes the client's `X-Request-ID` when it is a sane token (a proxy or the
controller's own system may have set one, so its logs and ours join up), or makes a fresh one,
and answers with it in the same header. The id lives in a context variable until Django's
`request_finished`, which comes after django.request's warning about a 4xx or 5xx and after
gunicorn's access log line, so both can carry it. config/celery.py puts it into the headers of
every task published meanwhile and sets it again in the worker around the task, with the task's
own id and name. RequestIdFilter copies them onto each log record (config/settings/logs.py).

Per request this is one header read, one context variable set and one header written: the
decision path must not feel it.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

from django.core.signals import request_finished

HEADER = "X-Request-ID"
# What a client may send: a uuid, a hex digest, a proxy's trace id. Anything else (too long, a
# newline or a quote to forge log lines or headers, other characters) gets a fresh id instead.
_SANE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# (task id, task name) while a worker runs a task.
task: ContextVar[tuple[str, str] | None] = ContextVar("task", default=None)


def sane_request_id(value: str | None) -> str:
    """`value` if a client may choose it as the request id, else a fresh uuid4 (hex)."""
    if value and _SANE.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        current = sane_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        request_id.set(current)
        response = self.get_response(request)
        response[HEADER] = current
        return response


def _forget(**kwargs) -> None:
    # A process serves one request after another: nothing logged between two requests may carry
    # the previous one's id.
    request_id.set(None)


request_finished.connect(_forget, dispatch_uid="config.request_id.forget")


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (None outside a request or a task it enqueued) and, inside a task,
    `task_id` and `task_name` to every record. Keeps every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        running = task.get()
        if running is not None:
            record.task_id, record.task_name = running
        return True
