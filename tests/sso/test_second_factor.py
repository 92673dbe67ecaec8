"""A second factor (TOTP) for local sign-ins, mandatory for the roles OTP_REQUIRED_ROLES names:
until it is given, staff pages send the person to the code or enrolment page and the session API
answers 403; wrong codes are audited and throttled; enrolment and removal are audited."""

from __future__ import annotations

import re
from base64 import b32encode

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import Action, AuditEvent

pytestmark = pytest.mark.django_db
SSO_BACKEND = "decisions.sso.StaffOIDCBackend"


def signed_in(username: str) -> Client:
    client = Client()
    answer = client.post("/accounts/login/", {"username": username, "password": "pw-" + username})
    assert answer.status_code == 302, answer.content.decode()[:300]
    return client


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    # The authenticator app's code now (or at a later 30-second step, which the device's tolerance
    # of one step accepts: a code already used is never accepted twice).
    return (
        f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=steps_ahead):06d}"
    )


def audited(action: str, user) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, object_id=str(user.pk)).order_by("id"))


@pytest.fixture
def auditors_need_it(settings):
    settings.OTP_REQUIRED_ROLES = ["auditor"]
    # Throttling has its own test; here a right code straight after a wrong one must be tried.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


def test_an_auditor_without_a_device_is_refused_then_enrols_and_passes(auditor, auditors_need_it):
    client = signed_in("audrey")
    page = client.get("/audit/")
    assert (page.status_code, page["Location"]) == (302, "/accounts/second-factor/?next=%2Faudit%2F")
    assert client.get(page["Location"])["Location"] == "/accounts/second-factor/enrol/?next=%2Faudit%2F"
    api = client.get("/api/v1/audit/events/")
    assert api.status_code == 403
    assert api.json()["detail"].startswith(
        "second factor required: enter the code from your authenticator app"
    )

    enrol = client.get("/accounts/second-factor/enrol/?next=/audit/")
    body = enrol.content.decode()
    device = TOTPDevice.objects.get(user=auditor, confirmed=False)
    secret = b32encode(device.bin_key).decode()
    shown = re.search(r'<code class="secret" id="totp-secret">([^<]*)</code>', body).group(1)
    assert shown.replace(" ", "") == secret
    assert "<svg" in body and "<script" not in body and "style=" not in body
    assert enrol["Cache-Control"].startswith("max-age=0") and "no-store" in enrol["Cache-Control"]
    # Loading the page again keeps the secret the app was given.
    client.get("/accounts/second-factor/enrol/")
    assert TOTPDevice.objects.get(user=auditor).key == device.key

    wrong = client.post("/accounts/second-factor/enrol/", {"code": "000000", "next": "/audit/"})
    assert wrong.status_code == 200 and "That code is not right" in wrong.content.decode()
    [failed] = audited(Action.USER_SECOND_FACTOR_FAILED, auditor)
    assert failed.data == {"device": device.pk, "throttled": False, "enrolling": True}
    assert client.get("/audit/").status_code == 302

    done = client.post("/accounts/second-factor/enrol/", {"code": code_for(device), "next": "/audit/"})
    assert (done.status_code, done["Location"]) == (302, "/audit/")
    assert TOTPDevice.objects.get(user=auditor).confirmed
    assert [e.data for e in audited(Action.USER_SECOND_FACTOR_ENROLLED, auditor)] == [{"device": device.pk}]
    assert client.get("/audit/").status_code == 200
    assert client.get("/api/v1/audit/events/").status_code == 200


def test_with_a_device_the_next_sign_in_asks_for_a_code_and_a_wrong_one_does_not_pass(
    auditor, auditors_need_it
):
    device = TOTPDevice.objects.create(user=auditor, name="phone", confirmed=True)
    client = signed_in("audrey")
    assert client.get("/audit/")["Location"] == "/accounts/second-factor/?next=%2Faudit%2F"
    ask = client.get("/accounts/second-factor/?next=/audit/")
    assert ask.status_code == 200 and "Enter your code" in ask.content.decode()

    wrong = client.post("/accounts/second-factor/", {"code": "123456", "next": "/audit/"})
    assert wrong.status_code == 200 and "That code is not right" in wrong.content.decode()
    not_digits = client.post("/accounts/second-factor/", {"code": "abc", "next": "/audit/"})
    assert "Enter the 6 digits" in not_digits.content.decode()
    assert [e.data for e in audited(Action.USER_SECOND_FACTOR_FAILED, auditor)] == [
        {"device": device.pk, "throttled": False, "enrolling": False}
    ]
    assert client.get("/audit/").status_code == 302
    assert client.get("/api/v1/audit/events/").status_code == 403

    passed = client.post("/accounts/second-factor/", {"code": code_for(device), "next": "/audit/"})
    assert passed["Location"] == "/audit/"
    assert client.get("/audit/").status_code == 200
    # Somewhere else with the same code: already used, refused.
    elsewhere = signed_in("audrey")
    again = elsewhere.post("/accounts/second-factor/", {"code": code_for(device), "next": "/audit/"})
    assert again.status_code == 200 and elsewhere.get("/audit/").status_code == 302


def test_wrong_codes_are_throttled(auditor, settings):
    settings.OTP_REQUIRED_ROLES = ["auditor"]
    settings.OTP_TOTP_THROTTLE_FACTOR = 60
    device = TOTPDevice.objects.create(user=auditor, name="phone", confirmed=True)
    client = signed_in("audrey")
    client.post("/accounts/second-factor/", {"code": "000000"})
    # The right code straight after a wrong one is not even tried.
    held = client.post("/accounts/second-factor/", {"code": code_for(device)})
    assert "Too many wrong codes: wait until" in held.content.decode()
    assert client.get("/audit/").status_code == 302
    assert [e.data["throttled"] for e in audited(Action.USER_SECOND_FACTOR_FAILED, auditor)] == [False, True]
    device.refresh_from_db()
    assert device.throttling_failure_count == 1


def test_when_no_role_requires_it_sign_in_is_unchanged(auditor, caseworker, settings):
    assert settings.OTP_REQUIRED_ROLES == []
    assert signed_in("audrey").get("/audit/").status_code == 200
    settings.OTP_REQUIRED_ROLES = ["auditor"]
    casey = signed_in("casey")
    assert casey.get("/cases/").status_code == 200
    assert casey.get("/api/v1/reviews/").status_code == 200
    assert not AuditEvent.objects.filter(action=Action.USER_SECOND_FACTOR_FAILED).exists()


def test_the_integrations_api_key_is_never_held_back(auditors_need_it, integration, auditor):
    # A request with an API key and a half-signed-in session cookie: the key decides.
    integration.force_login(auditor)
    assert integration.get("/api/v1/models/").status_code == 200
    # On the pages, which read only the session, an API key header lets nothing past.
    assert integration.get("/audit/").status_code == 302


def test_reset_second_factor_removes_the_device_audited(auditor, auditors_need_it, capsys):
    TOTPDevice.objects.create(user=auditor, name="phone", confirmed=True)
    call_command("reset_second_factor", "audrey")
    assert "removed 1 authenticator(s) of audrey" in capsys.readouterr().out
    assert not TOTPDevice.objects.filter(user=auditor).exists()
    [removed] = audited(Action.USER_SECOND_FACTOR_REMOVED, auditor)
    assert (removed.actor_type, removed.actor_id, removed.data) == ("system", "manage.py", {"devices": 1})
    # The next sign-in sets up a new one.
    assert (
        signed_in("audrey")
        .get("/accounts/second-factor/")["Location"]
        .startswith("/accounts/second-factor/enrol/")
    )
    with pytest.raises(CommandError, match="no user 'ghost'"):
        call_command("reset_second_factor", "ghost")


def test_an_administrator_removes_a_device_in_the_admin_audited(auditor, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.org", "pw-root")
    device = TOTPDevice.objects.create(user=auditor, name="phone", confirmed=True)
    client = signed_in("root")
    page = f"/admin/otp_totp/totpdevice/{device.pk}/"
    assert client.get(f"{page}change/").status_code == 200
    assert client.get("/admin/otp_totp/totpdevice/add/").status_code == 403
    assert client.post(f"{page}delete/", {"post": "yes"}).status_code == 302
    assert not TOTPDevice.objects.exists()
    [removed] = audited(Action.USER_SECOND_FACTOR_REMOVED, auditor)
    assert (removed.actor_type, removed.actor_id) == ("user", str(admin.pk))


def test_signing_out_is_audited(caseworker):
    client = signed_in("casey")
    assert client.post("/accounts/logout/")["Location"] == "/accounts/login/"
    assert len(audited(Action.USER_LOGOUT, caseworker)) == 1


# ---------------------------------------------------------------------------- who may use the pages
@pytest.mark.parametrize("path", ["/accounts/second-factor/", "/accounts/second-factor/enrol/"])
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    answer = client.get(path)
    assert (answer.status_code, answer["Location"]) == (302, f"/accounts/login/?next={path}")


@pytest.mark.parametrize("path", ["/accounts/second-factor/", "/accounts/second-factor/enrol/"])
def test_a_single_sign_on_session_is_refused(caseworker, settings, path):
    settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, SSO_BACKEND]
    settings.OIDC_OP_JWKS_ENDPOINT = "http://127.0.0.1:9/jwks"
    client = Client()
    client.force_login(caseworker, backend=SSO_BACKEND)
    answer = client.get(path)
    assert answer.status_code == 403
    assert "already asks for your second factor" in answer.content.decode()


@pytest.mark.parametrize("path", ["/accounts/second-factor/", "/accounts/second-factor/enrol/"])
def test_someone_whose_role_needs_no_second_factor_is_refused_the_pages(caseworker, nobody, settings, path):
    settings.OTP_REQUIRED_ROLES = ["auditor"]
    for username in ("casey", "norole"):
        answer = signed_in(username).get(path)
        assert (
            answer.status_code == 403 and "Your role does not need a second factor" in answer.content.decode()
        )
    assert not TOTPDevice.objects.exists()


def test_the_admin_role_means_staff_rights(caseworker, settings):
    settings.OTP_REQUIRED_ROLES = ["admin"]
    assert signed_in("casey").get("/cases/").status_code == 200
    caseworker.is_staff = True
    caseworker.save()
    assert signed_in("casey").get("/cases/")["Location"] == "/accounts/second-factor/?next=%2Fcases%2F"


def test_a_second_device_needs_the_first(auditor, auditors_need_it):
    device = TOTPDevice.objects.create(user=auditor, name="phone", confirmed=True)
    client = signed_in("audrey")
    # With only the password, enrolling another authenticator sends to the code page instead.
    assert client.get("/accounts/second-factor/enrol/")["Location"] == "/accounts/second-factor/?next=%2F"
    client.post("/accounts/second-factor/", {"code": code_for(device)})
    refused = client.get("/accounts/second-factor/enrol/")
    assert refused.status_code == 403 and "Ask an administrator to reset it" in refused.content.decode()
    assert TOTPDevice.objects.filter(user=auditor).count() == 1
