"""Single sign-on against a real OpenID Connect provider (django-oauth-toolkit in its own process):
the browser's round trip made with requests, following every redirect and posting the provider's
own login form."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.contrib.auth import get_user_model

from audit.models import Action, AuditEvent
from decisions.models import StaffIdentity

from .fixtures import Provider

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()


def _field(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no {name} field in {page[:500]}"
    return html.unescape(match.group(1))


def sso_sign_in(
    live_server, username: str, next_path: str = "/cases/"
) -> tuple[requests.Session, requests.Response]:
    """Press "Sign in with ...", log in at the provider, follow it back; the last answer."""
    browser = requests.Session()
    login = browser.get(f"{live_server.url}/accounts/login/?next={next_path}", timeout=10)
    assert "Sign in with Example IdP" in login.text
    start = re.search(r'href="(/accounts/oidc/authenticate/[^"]*)"', login.text).group(1)
    page = browser.get(f"{live_server.url}{html.unescape(start)}", timeout=10)
    assert page.url.startswith("http://127.0.0.1:") and "Example Identity Provider" in page.text
    answer = browser.post(
        page.url,
        data={
            "username": username,
            "password": "pw-" + username,
            "next": _field(page.text, "next"),
            "csrfmiddlewaretoken": _field(page.text, "csrfmiddlewaretoken"),
        },
        timeout=30,
    )
    return browser, answer


def events(action: str, object_id=None) -> list[AuditEvent]:
    found = AuditEvent.objects.filter(action=action)
    if object_id is not None:
        found = found.filter(object_id=str(object_id))
    return list(found.order_by("id"))


def test_a_provider_caseworker_lands_on_the_queue_and_signing_out_is_audited(
    transactional_db, live_server, provider: Provider
):
    browser, queue = sso_sign_in(live_server, "carol")
    assert (queue.status_code, queue.url) == (200, f"{live_server.url}/cases/")
    assert "Review queue" in queue.text

    carol = User.objects.get(username="carol")
    assert list(carol.groups.values_list("name", flat=True)) == ["caseworker"]
    assert not carol.has_usable_password() and not carol.is_staff
    identity = StaffIdentity.objects.get(user=carol)
    assert identity.issuer == provider.issuer and identity.subject == "1"
    [created] = events(Action.USER_CREATED, carol.pk)
    [roles] = events(Action.USER_ROLES_CHANGED, carol.pk)
    assert (created.actor_type, created.actor_id) == ("system", "sso")
    assert (roles.data, roles.actor_id) == ({"before": [], "after": ["caseworker"]}, "sso")
    assert len(events(Action.USER_LOGIN, carol.pk)) == 1
    # Neither the e-mail address nor the tokens reach the log.
    assert not AuditEvent.objects.filter(data__icontains="carol@example.org").exists()

    out = browser.post(
        f"{live_server.url}/accounts/logout/",
        data={"csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": f"{live_server.url}/cases/"},
        timeout=10,
    )
    assert out.url == f"{live_server.url}/accounts/login/"
    assert len(events(Action.USER_LOGOUT, carol.pk)) == 1
    assert browser.get(f"{live_server.url}/cases/", timeout=10).url.startswith(
        f"{live_server.url}/accounts/login/"
    )


def test_no_mapped_group_is_refused_on_a_page_saying_why_and_creates_no_one(
    transactional_db, live_server, provider: Provider
):
    users_before = User.objects.count()
    browser, refused = sso_sign_in(live_server, "nick")
    assert refused.status_code == 403
    assert "none of your groups there gives you a role in Rationale" in refused.text
    assert User.objects.count() == users_before and not StaffIdentity.objects.exists()
    assert len(events(Action.USER_LOGIN_FAILED)) == 1 and not events(Action.USER_LOGIN)
    assert browser.get(f"{live_server.url}/cases/", timeout=10).url.startswith(
        f"{live_server.url}/accounts/login/"
    )


def test_a_group_change_at_the_provider_changes_the_roles_at_the_next_sign_in(
    transactional_db, live_server, provider: Provider
):
    sso_sign_in(live_server, "carol")
    carol = User.objects.get(username="carol")

    provider.set_groups("carol", "rationale-auditors", "rationale-admins")
    browser, home = sso_sign_in(live_server, "carol", next_path="/audit/")
    assert (home.status_code, home.url) == (200, f"{live_server.url}/audit/")
    carol.refresh_from_db()
    assert list(carol.groups.values_list("name", flat=True)) == ["auditor"]
    assert carol.is_staff and carol.is_superuser
    # Each step of the change is an event of its own, all made by the provider.
    changes = events(Action.USER_ROLES_CHANGED, carol.pk)
    assert [e.data for e in changes] == [
        {"before": [], "after": ["caseworker"]},
        {"before": ["caseworker"], "after": []},
        {"before": [], "after": ["auditor"]},
        {"before": ["auditor"], "after": ["auditor", "staff", "superuser"]},
    ]
    assert {(e.actor_type, e.actor_id) for e in changes} == {("system", "sso")}
    assert browser.get(f"{live_server.url}/cases/", timeout=10).status_code == 403

    # Out of every mapped group: refused, and the account keeps no role.
    provider.set_groups("carol")
    _, refused = sso_sign_in(live_server, "carol")
    assert refused.status_code == 403
    carol.refresh_from_db()
    assert not carol.groups.exists() and not carol.is_staff and not carol.is_superuser
    assert [e.data for e in events(Action.USER_ROLES_CHANGED, carol.pk)[-2:]] == [
        {"before": ["auditor", "staff", "superuser"], "after": ["staff", "superuser"]},
        {"before": ["staff", "superuser"], "after": []},
    ]
    # The same account each time: one identity, found by the provider's subject.
    assert (
        StaffIdentity.objects.filter(user=carol).count()
        == 1
        == User.objects.filter(sso_identity__isnull=False).count()
    )


def test_a_local_account_of_the_same_name_is_never_taken_over(
    transactional_db, live_server, provider, auditor
):
    auditor.username, auditor.email = "carol", "carol@example.org"
    auditor.save()
    _, queue = sso_sign_in(live_server, "carol")
    assert queue.url == f"{live_server.url}/cases/"
    # The local carol keeps her role and her password; the provider's carol is another account.
    auditor.refresh_from_db()
    assert list(auditor.groups.values_list("name", flat=True)) == ["auditor"]
    assert auditor.check_password("pw-audrey") and not StaffIdentity.objects.filter(user=auditor).exists()
    sso_user = StaffIdentity.objects.get().user
    assert sso_user.pk != auditor.pk and re.fullmatch(r"carol-[0-9a-f]{10}", sso_user.username)


def test_single_sign_on_is_not_asked_for_a_second_factor(transactional_db, live_server, provider, settings):
    # The provider's own multi-factor policy covers these sign-ins (docs/sign-in.md).
    settings.OTP_REQUIRED_ROLES = ["caseworker"]
    _, queue = sso_sign_in(live_server, "carol")
    assert (queue.status_code, queue.url) == (200, f"{live_server.url}/cases/")


def test_without_a_client_id_there_is_no_single_sign_on(client):
    assert "Sign in with" not in client.get("/accounts/login/").content.decode()
    assert client.get("/accounts/oidc/authenticate/").status_code == 404
    assert client.get("/accounts/oidc/callback/?code=x&state=y").status_code == 404


def test_a_callback_without_a_started_sign_in_is_refused(transactional_db, live_server, provider: Provider):
    # Anyone may call the callback: one with a made-up state signs no one in.
    answer = requests.get(f"{live_server.url}/accounts/oidc/callback/?code=forged&state=forged", timeout=10)
    assert answer.status_code == 403 and "did not complete" in answer.text
    assert not events(Action.USER_LOGIN)


def test_an_id_token_from_another_issuer_is_refused_and_audited(
    transactional_db, live_server, provider: Provider, settings
):
    settings.OIDC_OP_ISSUER = "https://sso.elsewhere.example/realms/other"
    _, refused = sso_sign_in(live_server, "carol")
    assert refused.status_code == 403 and "did not complete" in refused.text
    assert not StaffIdentity.objects.exists() and not User.objects.filter(username="carol").exists()
    assert len(events(Action.USER_LOGIN_FAILED)) == 1


def test_a_code_the_provider_refuses_ends_on_the_refusal_page_not_an_error(
    transactional_db, live_server, provider: Provider
):
    browser = requests.Session()
    start = browser.get(f"{live_server.url}/accounts/oidc/authenticate/", allow_redirects=False, timeout=10)
    state = parse_qs(urlparse(start.headers["Location"]).query)["state"][0]
    answer = browser.get(f"{live_server.url}/accounts/oidc/callback/?code=made-up&state={state}", timeout=30)
    assert answer.status_code == 403 and "did not complete" in answer.text
    assert len(events(Action.USER_LOGIN_FAILED)) == 1 and not events(Action.USER_LOGIN)


def test_refused_single_sign_ons_do_not_lock_out_the_next_person_from_that_address(
    transactional_db, live_server, provider: Provider, settings
):
    # Everyone behind an office's address signs in through the same callback, with no username
    # the sign-in pause (django-axes) could count per person.
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        sso_sign_in(live_server, "nick")
    _, queue = sso_sign_in(live_server, "carol")
    assert (queue.status_code, queue.url) == (200, f"{live_server.url}/cases/")
