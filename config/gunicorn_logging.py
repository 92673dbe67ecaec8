"""Gunicorn's logger with the subject's access tokens and e-mail addresses taken out.

The first request of a subject's link has its token in the path (`GET /access/<token>/`), and
gunicorn's access log writes the request line, the path, the query and the referrer. Every line
of the access and error logs goes through config.log_filters, so what is kept shows
`/access/<token>/` literally. Selected with `logger_class` in gunicorn.conf.py (and
`--logger-class` in docker/entrypoint.sh).
"""

from __future__ import annotations

from gunicorn.glogging import Logger

from config.log_filters import RedactSecrets

# The id the app answered with (config.request_id), last on every access line: "-" when none.
REQUEST_ID_ATOM = "%({x-request-id}o)s"


class RedactingLogger(Logger):
    def setup(self, cfg):
        if REQUEST_ID_ATOM not in cfg.access_log_format:
            cfg.set("access_log_format", f"{cfg.access_log_format} {REQUEST_ID_ATOM}")
        super().setup(cfg)
        # On the loggers rather than their handlers: setup replaces the handlers on every
        # configuration reload (SIGHUP), the loggers stay.
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactSecrets) for f in log.filters):
                log.addFilter(RedactSecrets())
