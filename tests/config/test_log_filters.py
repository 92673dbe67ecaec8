"""config.log_filters: no access token, status link or e-mail address in a log line."""

import logging
import sys

import pytest

from config.log_filters import RedactSecrets, redact

TOKEN = "q3Xv0bq1wYyqz5PcNn2m8v1Rk4eJt7Hs"  # noqa: S105 - the shape of a real one, not one


def test_redact_replaces_tokens_status_links_and_addresses():
    assert redact(f'"GET /access/{TOKEN}/ HTTP/1.1" 302') == '"GET /access/<token>/ HTTP/1.1" 302'
    signed = ".eJyrVipSsjIw1lEqBhKcGDvGQ:1vRfAb:Xy-z_0123"
    assert redact(f"GET /request-status/{signed}/") == "GET /request-status/<token>/"
    assert redact("could not reach jo.doe+rationale@mail.example.org") == "could not reach <email>"
    assert redact("GET /x/?to=jo.doe%2Bx%40example.org&y=1") == "GET /x/?to=<email>&y=1"
    # What is no secret stays readable: the token-less pages and the API's revoke.
    kept = "GET /access/decision/6f1c2d1e-0f2b-4c55-9a57-5f0e8a1c2b3d/ask/contest/ /access/revoke/"
    assert redact(kept) == kept


def record(msg, *args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("django.request", logging.WARNING, __file__, 1, msg, args, exc_info)


def test_the_filter_rewrites_the_formatted_message_and_the_traceback():
    try:
        raise ValueError(f"recipient refused: person@example.org via /access/{TOKEN}/")
    except ValueError:
        failed = record(
            "Not Found: %s for %s", f"/access/{TOKEN}/", "person@example.org", exc_info=sys.exc_info()
        )
    assert RedactSecrets().filter(failed) is True  # kept, only rewritten
    line = logging.Formatter("%(message)s").format(failed)
    assert line.startswith("Not Found: /access/<token>/ for <email>\nTraceback")
    assert TOKEN not in line and "person@example.org" not in line
    assert "ValueError: recipient refused: <email> via /access/<token>/" in line


@pytest.mark.parametrize("name", ["django.request", "django.server", "reviews.emails"])
def test_the_settings_redact_every_logger(name):
    """settings.LOGGING puts the filter on the console handler, and routes runserver's request
    lines (django.server, which Django's defaults give a handler of its own) through it."""
    handlers = logging.getLogger(name).handlers or logging.getLogger().handlers
    assert [type(f) for h in handlers for f in h.filters if isinstance(f, RedactSecrets)] == [RedactSecrets]
