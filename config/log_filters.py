"""Bearer secrets and e-mail addresses never reach a log line.

The subject's access link is `/access/<token>/` on its first use and the follow-up e-mails link
to `/request-status/<signed>/`; either, and any e-mail address, is replaced by a marker in every
record that passes a handler with this filter (Django's and Celery's `console`, runserver's
`django.server`) and in gunicorn's access and error logs (config.gunicorn_logging).
"""

from __future__ import annotations

import logging
import re

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

# A token is token_urlsafe(24) (32 characters); 16 and more so that the token-less pages
# (`/access/decision/<uuid>/`) and the API's `.../access/revoke/` stay readable.
_ACCESS_TOKEN = re.compile(r"(/access/)[A-Za-z0-9_\-]{16,}")
_STATUS_LINK = re.compile(r"(/request-status/)[^/\s\"'?#]+")
# Also URL-encoded (`%40`), as in a query string.
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+(?:@|%40)[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")

TOKEN_MARK = "<token>"  # noqa: S105 - the marker, not a secret
EMAIL_MARK = "<email>"


def redact(text: str) -> str:
    text = _ACCESS_TOKEN.sub(rf"\g<1>{TOKEN_MARK}", text)
    text = _STATUS_LINK.sub(rf"\g<1>{TOKEN_MARK}", text)
    return _EMAIL.sub(EMAIL_MARK, text)


class RedactSecrets(logging.Filter):
    """Rewrites the record's message (and its traceback) with the secrets replaced. Keeps the
    record: a line that says something happened is still wanted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: let the handler report it as usual
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            # The formatter uses exc_text when set: a traceback can quote an address (an SMTP
            # refusal) or a URL.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class RedactingJsonFormatter(JsonFormatter):
    """One JSON object per line (LOG_FORMAT=json). The whole line is redacted once more: a JSON
    formatter formats the traceback itself (not from the filter's redacted `exc_text`) and writes
    the `extra` values of a record, which the filter does not see."""

    def __init__(self, *args, **kwargs):
        # django.request's records carry the request object: its repr is the path, and the line
        # has the path already (redacted) in the message.
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request"])
        super().__init__(*args, **kwargs)

    def jsonify_log_record(self, log_data) -> str:
        return redact(super().jsonify_log_record(log_data))
