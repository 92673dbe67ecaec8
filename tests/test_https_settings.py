"""The HTTPS settings an operator turns on: redirects, HSTS, the proxy's scheme header, probes."""

import json

from django.test import Client

from tests.services import settings_process

NAMES = ("SECURE_HSTS_SECONDS", "SECURE_SSL_REDIRECT", "SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_AGE")


def settings_with(**env) -> dict:
    loaded = settings_process(
        f"import json; from django.conf import settings; print(json.dumps({{n: getattr(settings, n, None) for n in {NAMES!r}}}))",
        **env,
    )
    assert loaded.returncode == 0, loaded.stderr
    return json.loads(loaded.stdout.strip().splitlines()[-1])


def test_the_https_settings_are_off_by_default_and_read_from_the_environment():
    assert settings_with() == {
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_PROXY_SSL_HEADER": None,
        "SESSION_COOKIE_AGE": 8 * 3600,
    }
    assert settings_with(
        HSTS_SECONDS="31536000", SSL_REDIRECT="1", TRUST_X_FORWARDED_PROTO="1", SESSION_HOURS="4"
    ) == {
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SESSION_COOKIE_AGE": 4 * 3600,
    }


def test_with_the_redirect_on_pages_go_to_https_and_the_probes_answer_over_http(settings, db):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = Client()
    page = client.get("/accounts/login/")
    assert page.status_code == 301 and page["Location"] == "https://testserver/accounts/login/"
    assert client.get("/healthz").status_code == 200
    # Behind the proxy: the request came in over HTTPS, so no redirect, and HSTS is sent.
    secure = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000"
