"""E-mail settings: outside DEBUG a real backend or an explicit `none`, never the console."""

import json

import pytest

from tests.services import settings_process

SHOW = (
    "import json; from django.conf import settings as s; print(json.dumps([s.EMAIL_BACKEND, s.EMAIL_HOST,"
    " s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_HOST_PASSWORD, s.EMAIL_USE_TLS, s.EMAIL_ENABLED]))"
)


def loaded(**env):
    done = settings_process(SHOW, **env)
    return json.loads(done.stdout) if done.returncode == 0 else done.stderr.strip().splitlines()[-1]


def test_an_smtp_url_configures_the_smtp_backend():
    assert loaded(DEBUG="0", EMAIL_URL="smtp+tls://rationale%40example.org:s3cret@smtp.example.org:587") == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.org",
        587,
        "rationale@example.org",
        "s3cret",
        True,
        True,
    ]


def test_none_disables_e_mail_with_a_backend_that_sends_nothing():
    assert loaded(DEBUG="0", EMAIL_URL="none")[0::6] == [
        "django.core.mail.backends.dummy.EmailBackend",
        False,
    ]


@pytest.mark.parametrize("url", ["", "consolemail://"])
def test_outside_debug_no_url_or_the_console_is_refused(url):
    refused = loaded(DEBUG="0", EMAIL_URL=url)
    assert refused.startswith("django.core.exceptions.ImproperlyConfigured: ")
    assert "EMAIL_URL must be set" in refused or "console e-mail backend is for DEBUG only" in refused


def test_debug_defaults_to_the_console():
    shown = loaded(DEBUG="1", EMAIL_URL="")
    assert shown[0] == "django.core.mail.backends.console.EmailBackend" and shown[-1] is True
