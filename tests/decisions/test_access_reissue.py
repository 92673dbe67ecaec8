"""Re-issuing a subject's access link (by the controller's API and by a caseworker), the link's
expiry on the page, and the page an expired or withdrawn link opens."""

import json
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from audit.chain import verify_chain
from audit.models import Action, AuditEvent
from audit.services import Actor
from decisions import subject_access
from decisions.credentials import secret_hash
from decisions.models import Decision
from decisions.recording import DecisionInput
from decisions.translations import version_texts
from explanations.recording import decision_record_many
from reviews.services import casework, requests
from tests.conftest import client_for
from tests.reviews.test_caseworker import RATIONALE

pytestmark = pytest.mark.django_db
GERMAN_MONTHS = "Januar Februar März April Mai Juni Juli August September Oktober November Dezember".split()


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def mine(credit_version, credit_trained):
    item = DecisionInput(model="credit-risk", features=credit_trained.sample_rows[0], subject_ref="p-0")
    return decision_record_many(items=[item], actor=Actor.system("tests"))[0]


@pytest.fixture
def case(mine):
    return requests.review_request_create(decision=mine.decision, kind="human_intervention")


def path_of(url: str) -> str:
    return "/access/" + url.rsplit("/access/", 1)[1]


def token_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode()).replace("&#x27;", "'")


def subject_api_status(token: str) -> int:
    api = APIClient()
    api.credentials(HTTP_X_ACCESS_TOKEN=token)
    return api.get("/api/v1/subject/decision/").status_code


def assert_only_the_new_link_works(client, old_token: str, new_url: str, *, old_session: Client) -> None:
    assert client.get(path_of(new_url), follow=True).status_code == 200
    # A browser that opened the old link before loses the decision's pages with it.
    page = old_session.get(client.get(path_of(new_url))["Location"])
    assert (
        page.status_code == 403 and "Open the link from your decision notice again" in page.content.decode()
    )
    old = client.get(f"/access/{old_token}/")
    # The old token's hash is gone: it reads as any unknown link, not as an ended one.
    assert old.status_code == 404 and "This link is not valid" in old.content.decode()
    assert subject_api_status(token_of(new_url)) == 200
    assert subject_api_status(old_token) == 404


def assert_audited_without_secrets(decision: Decision, new_url: str, old_token: str, *, actor_type: str):
    event = AuditEvent.objects.get(action=Action.SUBJECT_ACCESS_REISSUED)
    assert (event.object_id, event.actor_type) == (str(decision.pk), actor_type)
    assert event.data == {"previous": "open", "expires_at": decision.access_expires_at.isoformat()}
    logged = json.dumps(list(AuditEvent.objects.values("actor_id", "object_id", "data")))
    for secret in (token_of(new_url), old_token, secret_hash(token_of(new_url)), secret_hash(old_token)):
        assert secret not in logged
    assert verify_chain().ok


def opened(token: str) -> Client:
    """A browser that opened the link (its session bound to the decision)."""
    browser = Client()
    assert browser.get(f"/access/{token}/").status_code == 302
    return browser


def test_the_controller_reissues_by_api(client, integration, mine):
    before = timezone.now()
    old_session = opened(mine.access_token)
    response = integration.post(f"/api/v1/decisions/{mine.decision.pk}/access/reissue/")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    body = response.json()
    decision = Decision.objects.get(pk=mine.decision.pk)
    assert set(body) == {"subject_access_url", "access_expires_at"}
    assert body["subject_access_url"].startswith("http://127.0.0.1:8000/access/")
    assert decision.access_token_hash == secret_hash(token_of(body["subject_access_url"]))
    assert decision.access_expires_at >= before + timedelta(days=settings.SUBJECT_ACCESS_DAYS)
    assert_only_the_new_link_works(
        client, mine.access_token, body["subject_access_url"], old_session=old_session
    )
    assert_audited_without_secrets(
        decision, body["subject_access_url"], mine.access_token, actor_type="api_key"
    )


def test_a_caseworker_reissues_from_the_case_page(client, caseworker, case, mine):
    staff = client_for(caseworker)
    old_session = opened(mine.access_token)
    page = staff.get(f"/cases/{case.reference}/").content.decode()
    assert f'action="/cases/{case.reference}/access/reissue/"' in page
    response = staff.post(f"/cases/{case.reference}/access/reissue/")
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    new_url = re.search(r'<code class="hash" id="new-link">([^<]+)</code>', response.content.decode()).group(
        1
    )
    assert_only_the_new_link_works(client, mine.access_token, new_url, old_session=old_session)
    decision = Decision.objects.get(pk=mine.decision.pk)
    assert_audited_without_secrets(decision, new_url, mine.access_token, actor_type="user")
    assert AuditEvent.objects.get(action=Action.SUBJECT_ACCESS_REISSUED).actor_id == str(caseworker.pk)
    # The case page afterwards shows the new expiry, never the link.
    again = staff.get(f"/cases/{case.reference}/").content.decode()
    assert token_of(new_url) not in again
    assert f"works until {decision.access_expires_at:%-d %b %Y}" in again


def test_a_revoked_link_reissued_works_again(client, integration, mine):
    subject_access.subject_access_revoke(decision=mine.decision, actor=Actor.system("tests"))
    assert client.get(f"/access/{mine.access_token}/").status_code == 410
    body = integration.post(f"/api/v1/decisions/{mine.decision.pk}/access/reissue/").json()
    assert client.get(path_of(body["subject_access_url"]), follow=True).status_code == 200
    assert Decision.objects.get(pk=mine.decision.pk).access_revoked_at is None
    assert AuditEvent.objects.get(action=Action.SUBJECT_ACCESS_REISSUED).data["previous"] == "revoked"


def test_the_page_says_when_the_link_expires(client, mine):
    expires = mine.decision.access_expires_at
    english = text_of(client.get(f"/access/{mine.access_token}/", HTTP_ACCEPT_LANGUAGE="en", follow=True))
    assert (
        f'This link works until</dt><dd><time datetime="{expires.isoformat()}">{expires.day} {expires:%B %Y}'
        in english
    )
    german = text_of(client.get(f"/access/{mine.access_token}/", HTTP_ACCEPT_LANGUAGE="de", follow=True))
    assert f"{expires.day}. {GERMAN_MONTHS[expires.month - 1]} {expires.year}</time>" in german
    assert "This link works until" not in german


@pytest.mark.parametrize("page", ["link", "ask/contest/"])
def test_an_expired_link_says_how_to_get_a_new_one(client, mine, credit_version, page):
    url = f"/access/{mine.access_token}/"
    if page != "link":  # a page of a session bound while the link still worked
        url = client.get(url)["Location"] + page
    Decision.objects.filter(pk=mine.decision.pk).update(
        access_expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = client.get(url)
    page = text_of(response)
    assert response.status_code == 410
    assert response["Cache-Control"] == "no-store" and response["Referrer-Policy"] == "no-referrer"
    assert "This link has expired" in page and "How to get a new link" in page
    assert f"Ask {credit_version.controller} for a new link" in page and credit_version.contact in page
    # Nothing of the decision itself.
    assert mine.decision.outcome not in re.sub(r"<title>.*?</title>", "", page)
    assert str(mine.decision.pk) not in page.replace(f'value="{url}"', "")  # but the language form's return
    assert not AuditEvent.objects.filter(action=Action.DECISION_VIEWED).exists()
    german = text_of(client.get(url, HTTP_ACCEPT_LANGUAGE="de"))
    german_contact = version_texts(credit_version, "de")["contact"]  # the controller's own German text
    assert "This link has expired" not in german and german_contact in german


def test_a_withdrawn_link_says_so_and_an_unknown_one_tells_nothing(client, mine, credit_version):
    subject_access.subject_access_revoke(decision=mine.decision, actor=Actor.system("tests"))
    revoked = client.get(f"/access/{mine.access_token}/")
    assert revoked.status_code == 410 and "This link has been withdrawn" in text_of(revoked)
    unknown = client.get(f"/access/{mine.access_token[:-4]}AAAA/")
    assert unknown.status_code == 404
    assert credit_version.controller not in text_of(unknown) and credit_version.contact not in text_of(
        unknown
    )


def test_wrong_tokens_are_still_throttled_and_the_new_link_still_served(client, integration, mine, settings):
    settings.SUBJECT_BAD_TOKEN_LIMIT = 3
    Decision.objects.filter(pk=mine.decision.pk).update(
        access_expires_at=timezone.now() - timedelta(seconds=1)
    )
    # An ended link is the person's own, told apart and never counted as a guess.
    for _ in range(4):
        assert client.get(f"/access/{mine.access_token}/").status_code == 410
    for i in range(3):
        assert client.get(f"/access/not-a-token-{i}/").status_code == 404
    assert client.get("/access/not-a-token-3/").status_code == 429
    new_url = integration.post(f"/api/v1/decisions/{mine.decision.pk}/access/reissue/").json()[
        "subject_access_url"
    ]
    assert client.get(path_of(new_url), follow=True).status_code == 200


def test_only_the_controller_and_caseworkers_reissue(client, mine, case, auditor, nobody):
    api_url = f"/api/v1/decisions/{mine.decision.pk}/access/reissue/"
    page_url = f"/cases/{case.reference}/access/reissue/"
    for user in (auditor, nobody):
        assert client_for(user).post(api_url).status_code == 403
        assert client_for(user).post(page_url).status_code == 403
    assert APIClient().post(api_url).status_code in (401, 403)
    assert client.post(page_url).status_code == 302  # to sign in
    assert not AuditEvent.objects.filter(action=Action.SUBJECT_ACCESS_REISSUED).exists()
    assert client.get(f"/access/{mine.access_token}/", follow=True).status_code == 200


def test_a_human_decision_or_unknown_id_is_not_reissued(integration, caseworker, case, mine):
    overturned = "approved" if mine.decision.outcome == "refused" else "refused"
    casework.review_overturn(request=case, user=caseworker, new_outcome=overturned, rationale=RATIONALE)
    human = Decision.objects.get(supersedes=mine.decision)
    assert integration.post(f"/api/v1/decisions/{human.pk}/access/reissue/").status_code == 404
    missing = "00000000-0000-0000-0000-000000000000"
    assert integration.post(f"/api/v1/decisions/{missing}/access/reissue/").status_code == 404
