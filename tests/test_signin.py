"""Staff sign-in: audited, and paused for a username + address pair after repeated failures."""

import time

import pytest
from axes.models import AccessAttempt
from django.test import Client

from audit.models import Action, AuditEvent

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def sign_in(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_a_sign_in_and_a_failure_are_audit_events_without_the_attempted_name(caseworker):
    assert sign_in(Client(), "casey", "wrong-password").status_code == 200
    failed = AuditEvent.objects.get(action=Action.USER_LOGIN_FAILED)
    assert "casey" not in str(failed.object_id) and "casey" not in str(failed.data)
    client = Client()
    assert sign_in(client, "casey", "pw-casey").status_code == 302 and signed_in(client)
    assert AuditEvent.objects.filter(action=Action.USER_LOGIN, object_id=str(caseworker.pk)).count() == 1


def test_after_the_limit_the_right_password_is_refused_from_that_address(caseworker, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(Client(), "casey", "wrong-password").status_code == 200
    # The failure that reaches the limit already answers with the pause.
    assert sign_in(Client(), "casey", "wrong-password").status_code == 429
    client = Client()
    paused = sign_in(client, "casey", "pw-casey")
    assert paused.status_code == 429 and not signed_in(client)
    assert paused["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    assert "Sign-in paused" in paused.content.decode() and "15 minutes" in paused.content.decode()
    # Every attempt, the paused one included, is in the audit log.
    assert (
        AuditEvent.objects.filter(action=Action.USER_LOGIN_FAILED).count() == settings.AXES_FAILURE_LIMIT + 1
    )
    # Not from another address, and not for another username from this one.
    elsewhere = Client()
    assert sign_in(elsewhere, "casey", "pw-casey", address="10.0.0.2").status_code == 302
    assert signed_in(elsewhere)


def test_the_pause_page_speaks_german(caseworker, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client().post(
            LOGIN, {"username": "casey", "password": "x"}, REMOTE_ADDR="10.0.0.1", HTTP_ACCEPT_LANGUAGE="de"
        )
    page = Client().post(
        LOGIN,
        {"username": "casey", "password": "pw-casey"},
        REMOTE_ADDR="10.0.0.1",
        HTTP_ACCEPT_LANGUAGE="de",
    )
    assert page.status_code == 429
    assert "Anmeldung pausiert" in page.content.decode() and "15 Minuten" in page.content.decode()


def test_the_admin_sign_in_is_paused_too(caseworker, settings):
    caseworker.is_staff = True
    caseworker.save()
    body = {"username": "casey", "password": "wrong-password"}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client().post("/admin/login/", body, REMOTE_ADDR="10.0.0.1")
    client = Client()
    paused = client.post("/admin/login/", {**body, "password": "pw-casey"}, REMOTE_ADDR="10.0.0.1")
    assert paused.status_code == 429 and not signed_in(client)


def test_a_successful_sign_in_clears_the_count_and_the_stored_attempts(caseworker, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(Client(), "casey", "wrong-password")
    assert AccessAttempt.objects.filter(username="casey").exists()
    assert sign_in(Client(), "casey", "pw-casey").status_code == 302
    # The attempted username and the address are not kept once the person is in.
    assert not AccessAttempt.objects.exists()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(Client(), "casey", "wrong-password")
    assert sign_in(Client(), "casey", "pw-casey").status_code == 302


def test_the_pause_ends_after_the_cool_off(caseworker, settings):
    settings.AXES_COOLOFF_TIME = settings.AXES_COOLOFF_TIME / (15 * 60)  # one second
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(), "casey", "wrong-password")
    assert sign_in(Client(), "casey", "pw-casey").status_code == 429
    time.sleep(1.2)
    client = Client()
    assert sign_in(client, "casey", "pw-casey").status_code == 302 and signed_in(client)
