"""Django's e-mail settings from EMAIL_URL (config.settings): a real transport or an explicit
`none`, never the console outside DEBUG."""

from __future__ import annotations

import environ
from django.core.exceptions import ImproperlyConfigured

CONSOLE = "django.core.mail.backends.console.EmailBackend"
DUMMY = "django.core.mail.backends.dummy.EmailBackend"


def email_settings(url: str, *, backend: str, debug: bool) -> dict:
    """EMAIL_* for `url` (smtp://, smtp+tls://, smtp+ssl://, filemail://, consolemail:// or
    `none`); `backend`, if given, replaces the backend class alone. Raises ImproperlyConfigured
    for no URL or the console outside DEBUG: the console backend writes each person's address and
    link to the logs and delivers nothing, which must not pass for sending."""
    url = url.strip() or ("consolemail://" if debug else "")
    if not url:
        raise ImproperlyConfigured(
            "EMAIL_URL must be set when DEBUG is off: smtp+tls://USER:PASSWORD@HOST:587, or none to send no e-mail"
        )
    found = {"EMAIL_URL": url, "EMAIL_ENABLED": url.lower() != "none", "EMAIL_BACKEND": DUMMY}
    if found["EMAIL_ENABLED"]:
        parsed = environ.Env.email_url_config(url)
        found.update(
            EMAIL_BACKEND=parsed["EMAIL_BACKEND"],
            EMAIL_HOST=parsed.get("EMAIL_HOST") or "localhost",
            EMAIL_PORT=parsed.get("EMAIL_PORT") or 25,
            EMAIL_HOST_USER=parsed.get("EMAIL_HOST_USER") or "",
            EMAIL_HOST_PASSWORD=parsed.get("EMAIL_HOST_PASSWORD") or "",
            EMAIL_USE_TLS=parsed.get("EMAIL_USE_TLS", False),
            EMAIL_USE_SSL=parsed.get("EMAIL_USE_SSL", False),
            EMAIL_FILE_PATH=parsed.get("EMAIL_FILE_PATH") or None,
        )
    found["EMAIL_BACKEND"] = backend or found["EMAIL_BACKEND"]
    if found["EMAIL_BACKEND"] == CONSOLE and not debug:
        raise ImproperlyConfigured(
            "the console e-mail backend is for DEBUG only: it writes addresses to the logs"
        )
    return found
