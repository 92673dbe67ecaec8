"""Logging: structured JSON lines carrying the request id, in the web and worker processes.

LOG_FORMAT=json (the default outside DEBUG) writes one JSON object per line to stderr: `time`,
`level`, `logger`, `message`, `request_id` (config.request_id), and inside a Celery task
`task_id` and `task_name`; a traceback is `exc_info`. LOG_FORMAT=text writes plain lines (the
default in DEBUG, so that `make run` stays readable). A Celery worker replaces these handlers with
its own at start-up: config/celery.py gives them the same formatter and filters.

Every line goes through config.log_filters: a subject's access token (in the first request of
their link, and so in django.request's 4xx warnings and runserver's request lines) and any
e-mail address are replaced by a marker. gunicorn's own logs: config.gunicorn_logging.
"""

from django.core.exceptions import ImproperlyConfigured

from .environment import env

LOG_FORMAT = env.str("LOG_FORMAT", default="text" if env.bool("DEBUG", default=False) else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text; got {LOG_FORMAT!r}")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")

LOG_FORMATTERS = {
    "json": {
        "()": "config.log_filters.RedactingJsonFormatter",
        "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s",
        "rename_fields": {"levelname": "level", "name": "logger"},
        "timestamp": "time",  # ISO 8601 in UTC, from the record's own clock
    },
    "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "config.log_filters.RedactSecrets"},
        "request_id": {"()": "config.request_id.RequestIdFilter"},
    },
    "formatters": {"plain": LOG_FORMATTERS[LOG_FORMAT]},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Configured here so that Django's own handlers on it go: in DEBUG its default `console`
        # wrote django.request's lines a second time, past the redaction. To ours, by the root.
        "django": {"level": "INFO"},
        "django.db.backends": {"level": "WARNING"},
        # axes: its INFO lines repeat every sign-in; its warnings (a lockout) stay.
        "axes": {"level": "WARNING"},
        # Django's default sends runserver's request lines to a handler of its own, unfiltered.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
