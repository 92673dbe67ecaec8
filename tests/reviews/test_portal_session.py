"""The subject's link exchanged for a session bound to its decision (reviews.portal_views,
decisions.subject_access): the redirect, what the session opens and for how long, CSRF."""

import re

import pytest
from django.core.cache import cache
from django.test import Client

from audit.services import Actor
from decisions.recording import DecisionInput
from decisions.subject_access import SESSION_KEY
from explanations.recording import decision_record_many
from reviews.models import ReviewRequest

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def two(credit_version, credit_trained):
    items = [
        DecisionInput(model="credit-risk", features=row, subject_ref=f"p-{i}")
        for i, row in enumerate(credit_trained.sample_rows[:2])
    ]
    return decision_record_many(items=items, actor=Actor.system("tests"))


def page_of(recorded, suffix: str = "") -> str:
    return f"/access/decision/{recorded.decision.pk}/{suffix}"


def test_the_link_binds_the_session_and_redirects_to_a_url_without_the_token(client, two):
    mine = two[0]
    opened = client.get(f"/access/{mine.access_token}/")
    assert opened.status_code == 302 and opened["Location"] == page_of(mine)
    assert opened["Referrer-Policy"] == "no-referrer" and opened["Cache-Control"] == "no-store"
    assert mine.access_token not in opened["Location"]
    # The session cookie ends with the browser (a shared computer), not after a staff day.
    assert opened.cookies["sessionid"]["max-age"] == "" and opened.cookies["sessionid"]["expires"] == ""
    page = client.get(page_of(mine))
    assert page.status_code == 200 and mine.access_token not in page.content.decode()
    # Only the token's hash is kept in the session, to notice a re-issued link.
    assert mine.access_token not in str(dict(client.session))


def test_without_the_session_the_page_says_to_open_the_link_again(client, two):
    mine = two[0]
    for url in (
        page_of(mine),
        page_of(mine, "ask/contest/"),
        "/access/decision/00000000-0000-0000-0000-000000000000/",
    ):
        refused = client.get(url)
        assert refused.status_code == 403 and refused["Cache-Control"] == "no-store"
        assert "Open the link from your decision notice again" in refused.content.decode()
    german = client.get(page_of(mine), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Öffnen Sie den Link aus Ihrem Bescheid erneut" in german
    assert client.post(page_of(mine, "ask/view/"), {"statement": "x"}).status_code == 403
    assert ReviewRequest.objects.count() == 0


def test_one_session_holds_both_links_of_a_person(client, two):
    mine, other = two
    for recorded in (mine, other):
        assert client.get(f"/access/{recorded.access_token}/").status_code == 302
    assert client.get(page_of(mine)).status_code == 200 and client.get(page_of(other)).status_code == 200
    assert sorted(client.session[SESSION_KEY]) == sorted([str(mine.decision.pk), str(other.decision.pk)])


def test_opening_the_link_gives_a_new_session_key(client, two):
    """A session id planted in the browser beforehand (session fixation) does not become the one
    that opens the decision."""
    client.get(f"/access/{two[1].access_token}/")
    planted = client.cookies["sessionid"].value
    client.get(f"/access/{two[0].access_token}/")
    assert client.cookies["sessionid"].value != planted
    assert Client(cookies={"sessionid": planted}).get(page_of(two[0])).status_code == 403


def test_a_session_idle_for_longer_than_the_setting_ends(client, two, settings):
    settings.SUBJECT_SESSION_SECONDS = 600
    mine = two[0]
    client.get(f"/access/{mine.access_token}/")
    session = client.session
    session[SESSION_KEY][str(mine.decision.pk)]["seen"] -= 601  # the last page, 601 s ago
    session.save()
    assert client.get(page_of(mine)).status_code == 403
    assert client.get(f"/access/{mine.access_token}/").status_code == 302  # the link opens it again
    assert client.get(page_of(mine)).status_code == 200


def test_forms_are_checked_for_csrf_like_any_signed_in_form(two):
    """The session is the credential now, which a forging site's form would carry along."""
    browser = Client(enforce_csrf_checks=True)
    mine = two[0]
    browser.get(f"/access/{mine.access_token}/")
    statement = {"statement": "My income is higher than recorded."}
    forged = browser.post(page_of(mine, "ask/view/"), statement)
    assert forged.status_code == 403 and ReviewRequest.objects.count() == 0
    form = browser.get(page_of(mine, "ask/view/")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    sent = browser.post(page_of(mine, "ask/view/"), {**statement, "csrfmiddlewaretoken": token})
    assert sent.status_code == 302 and ReviewRequest.objects.get().statement == statement["statement"]
