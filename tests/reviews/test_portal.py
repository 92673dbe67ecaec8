"""The data subject's pages and API: reached with the decision's access token only (the pages
through the session the link binds to the decision)."""

import json
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent
from audit.services import Actor
from decisions import subject_access
from decisions.models import Decision
from decisions.recording import DecisionInput
from explanations.drain import explanation_drain
from explanations.models import Explanation
from explanations.recording import decision_record_many
from reviews import status_links
from reviews.models import ReviewRequest
from reviews.services import casework, requests

pytestmark = pytest.mark.django_db
RATIONALE = "The applicant's savings were recorded wrongly; with the corrected figure the loan is affordable."


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()
    yield
    cache.clear()


def record(credit_version, rows, *, explain=True):
    items = [DecisionInput(model="credit-risk", features=r, subject_ref=f"p-{i}") for i, r in enumerate(rows)]
    recorded = decision_record_many(items=items, actor=Actor.system("tests"))
    if explain:
        explanation_drain(model_version_id=credit_version.pk)
    return recorded


@pytest.fixture
def mine_and_theirs(credit_version, credit_trained):
    return record(credit_version, credit_trained.sample_rows[:2])


def link(recorded) -> str:
    """The link in the decision notice."""
    return f"/access/{recorded.access_token}/"


def path(recorded, suffix: str = "") -> str:
    """A page of the portal, once the link has been opened in this client."""
    return f"/access/decision/{recorded.decision.pk}/{suffix}"


def open_link(client, recorded) -> None:
    opened = client.get(link(recorded))
    assert opened.status_code == 302 and opened["Location"] == path(recorded)


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_decision_page_explains_in_plain_language(client, mine_and_theirs, credit_trained):
    mine = mine_and_theirs[0]
    open_link(client, mine)
    response = client.get(path(mine))
    page = text_of(response)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store" and response["Referrer-Policy"] == "same-origin"
    assert '<html lang="en">' in page and 'http-equiv="refresh"' not in page
    assert f"<strong>{mine.decision.outcome}</strong>" in page and "Demo Bank AG" in page
    # At most four reasons, each naming the schema's label and the person's own value.
    reasons = re.search(r'<ol class="reasons">(.*?)</ol>', page).group(1)
    items = re.findall(r"<li>(.*?)</li>", reasons)
    assert 1 <= len(items) <= 4
    explanation = Explanation.objects.get(decision=mine.decision)
    from explanations.reasons import principal_reasons

    expected = principal_reasons(explanation, mine.decision)
    for item, reason in zip(items, expected, strict=True):
        assert reason["label"] in item and reason["display_value"] in item
        assert (
            f"toward the outcome “{mine.decision.outcome}”"
            in item.replace("&ldquo;", "“").replace("&rdquo;", "”")
            or "toward the outcome" in item
        )
    # The chart is inline SVG with a title, a description and a table as its text alternative.
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="waterfall"' in page and 'role="img"' in page
    assert "The chart as a table" in page
    # The data used: every input with its label and value.
    from decisions.schema import FeatureSchema

    schema = FeatureSchema.from_dict(mine.decision.model_version.feature_schema)
    table = re.search(r'<table class="data-used[^"]*">(.*?)</table>', page).group(1)
    for feature in schema.features:
        assert feature.label in table
        assert feature.display_value(credit_trained.sample_rows[0][feature.name]) in table
    # What would change it, checked by the model (only mutable, unprotected features).
    counterfactuals = explanation.counterfactuals
    assert counterfactuals["status"] == "done"
    for change in counterfactuals["items"][0]["changes"]:
        assert change["label"] in page
    assert "Age:" not in re.search(r'<ul class="counterfactuals">(.*?)</ul>', page).group(1)
    # Its three rights, each a link to a form that works without JavaScript.
    for kind in ("view", "contest", "human_intervention"):
        assert f'href="{path(mine, f"ask/{kind}/")}"' in page
    assert "<script" not in page and mine.access_token not in page
    event = AuditEvent.objects.get(action=Action.DECISION_VIEWED)
    assert event.object_id == str(mine.decision.pk) and event.actor_type == "subject"


def test_a_pending_explanation_page_refreshes_itself(client, credit_version, credit_trained):
    pending = record(credit_version, credit_trained.sample_rows[:1], explain=False)[0]
    open_link(client, pending)
    page = text_of(client.get(path(pending)))
    assert '<meta http-equiv="refresh" content="5">' in page
    assert "Your explanation is being prepared" in page and 'role="status"' in page
    explanation_drain(model_version_id=credit_version.pk)
    assert 'http-equiv="refresh"' not in text_of(client.get(path(pending)))


def test_the_page_speaks_german(client, mine_and_theirs):
    open_link(client, mine_and_theirs[0])
    response = client.get(path(mine_and_theirs[0]), HTTP_ACCEPT_LANGUAGE="de")
    page = text_of(response)
    assert '<html lang="de">' in page
    assert "Die Entscheidung über Sie" in page and "Warum" in page and "Die verwendeten Daten" in page
    assert "Entscheidung anfechten" in page and "Dies sprach für das Ergebnis" in page
    form = text_of(client.get(path(mine_and_theirs[0], "ask/contest/"), HTTP_ACCEPT_LANGUAGE="de"))
    assert "Warum fechten Sie die Entscheidung an?" in form and "Meinen Antrag senden" in form


def test_the_german_translation_is_complete():
    """Every string of the subject's and caseworker's pages, forms, charts and e-mails is translated."""
    from pathlib import Path

    po = (Path(__file__).resolve().parents[2] / "locale/de/LC_MESSAGES/django.po").read_text(encoding="utf-8")
    mine = (
        "decisions/",
        "explanations/",
        "reviews/",
        "templates/decisions/",
        "templates/reviews/",
        "templates/base.html",
        "templates/registration/",
    )
    untranslated = []
    for entry in po.split("\n\n")[1:]:
        refs = [line for line in entry.splitlines() if line.startswith("#:")]
        if not any(m in ref for ref in refs for m in mine):
            continue
        if re.search(r'^msgstr(\[\d\])? ""$(?!\n")', entry + "\n", re.M) or "#, fuzzy" in entry:
            untranslated.append(entry)
    assert untranslated == []


@pytest.mark.parametrize("how", ["wrong", "expired", "revoked"])
@pytest.mark.parametrize("suffix", ["", "ask/contest/", "requests/{ref}/"])
def test_bad_tokens_are_refused_on_every_page(client, mine_and_theirs, how, suffix):
    mine = mine_and_theirs[0]
    request = requests.review_request_create(decision=mine.decision, kind="human_intervention")
    url = path(mine, suffix.format(ref=request.reference))
    open_link(client, mine)  # a session bound while the link still worked
    if how == "wrong":
        wrong = client.get(link(mine).replace(mine.access_token, mine.access_token[:-4] + "AAAA"))
        assert wrong.status_code == 404 and "This link is not valid" in wrong.content.decode()
        assert wrong["Referrer-Policy"] == "no-referrer"
        client.cookies.clear()  # another browser: it never opened the link
    elif how == "expired":
        Decision.objects.filter(pk=mine.decision.pk).update(
            access_expires_at=timezone.now() - timedelta(seconds=1)
        )
    else:
        subject_access.subject_access_revoke(decision=mine.decision, actor=Actor.system("tests"))
    response = client.get(url)
    # A link that worked once says it ended and whom to ask (410), on its pages and on the link;
    # without the session the page says to open the link from the notice again.
    if how == "wrong":
        assert response.status_code == 403
        assert "Open the link from your decision notice again" in response.content.decode()
    else:
        assert response.status_code == 410 and "How to get a new link" in response.content.decode()
        assert client.get(link(mine)).status_code == 410
    assert response["Cache-Control"] == "no-store"
    assert list(AuditEvent.objects.filter(action=Action.DECISION_VIEWED)) == []


def test_one_token_never_reaches_another_decisions_requests(client, mine_and_theirs):
    mine, theirs = mine_and_theirs
    open_link(client, mine)
    their_request = requests.review_request_create(
        decision=theirs.decision, kind="view", statement="Private words of the other person."
    )
    response = client.get(path(mine, f"requests/{their_request.reference}/"))
    assert response.status_code == 404
    reply = client.post(path(mine, f"requests/{their_request.reference}/reply/"), {"statement": "x"})
    assert reply.status_code == 404
    page = text_of(client.get(path(mine)))
    assert their_request.reference not in page and str(theirs.decision.pk) not in page
    # Nor does my session open their decision's pages: it was bound to mine only.
    assert client.get(path(theirs)).status_code == 403


def test_invalid_tokens_are_rate_limited_but_a_valid_one_is_served(client, mine_and_theirs, settings):
    settings.SUBJECT_BAD_TOKEN_LIMIT = 3
    for i in range(3):
        assert client.get(f"/access/not-a-token-{i}/").status_code == 404
    blocked = client.get("/access/not-a-token-3/")
    assert blocked.status_code == 429 and blocked["Retry-After"] == str(
        settings.SUBJECT_BAD_TOKEN_WINDOW_SECONDS
    )
    api = subject_api("not-a-token-4").get("/api/v1/subject/decision/")
    assert api.status_code == 429 and api["Retry-After"] == "600"  # the API shares the count
    # A valid token from the same address is served all the same, on the pages and the API.
    open_link(client, mine_and_theirs[0])
    assert client.get(path(mine_and_theirs[0])).status_code == 200
    body = subject_api(mine_and_theirs[0].access_token).get("/api/v1/subject/decision/").json()
    assert body["id"] == str(mine_and_theirs[0].decision.pk)
    assert client.get("/access/not-a-token-5/", REMOTE_ADDR="198.51.100.7").status_code == 404


def test_contest_from_the_page_is_confirmed_with_reference_and_due_date(client, mine_and_theirs):
    mine = mine_and_theirs[0]
    open_link(client, mine)
    form = client.get(path(mine, "ask/contest/"))
    assert form.status_code == 200 and 'name="grounds"' in form.content.decode()
    assert '<label for="id_statement">' in form.content.decode()
    invalid = client.post(path(mine, "ask/contest/"), {"statement": "Wrong savings."})
    assert invalid.status_code == 400 and "Choose why you contest the decision" in invalid.content.decode()
    assert not ReviewRequest.objects.exists()
    sent = client.post(
        path(mine, "ask/contest/"),
        {"grounds": "data_wrong", "statement": "My savings are 1,200 DM, not under 100 DM."},
    )
    request = ReviewRequest.objects.get()
    assert sent.status_code == 302 and sent["Location"] == path(mine, f"requests/{request.reference}/?new=1")
    confirmation = text_of(client.get(sent["Location"]))
    assert "We received your request" in confirmation and request.reference in confirmation
    assert request.due_at.strftime("%-d %B %Y") in confirmation
    assert request.kind == "contest" and request.grounds == "data_wrong" and request.language == "en"
    listed = text_of(client.get(path(mine)))
    assert request.reference in listed and "Received" in listed


def test_the_subject_answers_a_question_and_reads_the_outcome(client, mine_and_theirs, caseworker):
    mine = mine_and_theirs[0]
    request = requests.review_request_create(decision=mine.decision, kind="human_intervention")
    casework.review_request_information(
        request=request, user=caseworker, question="Please send us your latest salary statement."
    )
    open_link(client, mine)
    page = text_of(client.get(path(mine, f"requests/{request.reference}/")))
    assert "We need information from you" in page and "latest salary statement" in page
    answered = client.post(path(mine, f"requests/{request.reference}/reply/"), {"statement": "3,100 DM net."})
    assert answered.status_code == 302
    request.refresh_from_db()
    assert request.status == "in_review"
    new = "approved" if mine.decision.outcome == "refused" else "refused"
    casework.review_overturn(request=request, user=caseworker, new_outcome=new, rationale=RATIONALE)
    status_page = text_of(client.get(path(mine, f"requests/{request.reference}/")))
    assert "Decision changed" in status_page and RATIONALE.replace("'", "&#x27;") in status_page
    main = text_of(client.get(path(mine)))
    assert "A person has reviewed this decision" in main and f"<strong>{new}</strong>" in main


def test_the_signed_status_link_opens_that_request_only(client, mine_and_theirs, caseworker):
    mine = mine_and_theirs[0]
    request = requests.review_request_create(decision=mine.decision, kind="human_intervention")
    casework.review_uphold(request=request, user=caseworker, rationale=RATIONALE)
    link = status_links.status_link(request).split("127.0.0.1:8000", 1)[1]
    response = client.get(link)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert request.reference in response.content.decode()
    assert client.get(link[:-3] + "zz/").status_code == 404
    subject_access.subject_access_revoke(decision=mine.decision, actor=Actor.system("tests"))
    assert client.get(link).status_code == 404


GERMAN_MONTHS = "Januar Februar März April Mai Juni Juli August September Oktober November Dezember".split()


def test_dates_are_written_in_the_persons_language(client, mine_and_theirs):
    mine = mine_and_theirs[0]
    request = requests.review_request_create(decision=mine.decision, kind="human_intervention")
    decided, due = mine.decision.decided_at, request.due_at
    open_link(client, mine)
    german = text_of(client.get(path(mine), HTTP_ACCEPT_LANGUAGE="de"))
    assert f"{decided.day}. {GERMAN_MONTHS[decided.month - 1]} {decided.year}, {decided:%H:%M} UTC" in german
    assert f"{due.day}. {GERMAN_MONTHS[due.month - 1]} {due.year}" in german
    english = text_of(client.get(path(mine), HTTP_ACCEPT_LANGUAGE="en"))
    assert f"{decided.day} {decided:%B %Y, %H:%M} UTC" in english and f"{due.day} {due:%B %Y}" in english
    status = text_of(client.get(path(mine, f"requests/{request.reference}/"), HTTP_ACCEPT_LANGUAGE="de"))
    assert f"<dd>{due.day}. {GERMAN_MONTHS[due.month - 1]} {due.year}</dd>" in status


def test_a_form_reading_is_told_as_what_was_read(client, digits_version, digits_trained):
    items = [DecisionInput(model="digit-reader", features=digits_trained.sample_rows[0], subject_ref="form")]
    [read] = decision_record_many(items=items, actor=Actor.system("tests"))
    explanation_drain(model_version_id=digits_version.pk)
    digit, confidence = read.decision.outcome, read.decision.score
    shown = "more than 99%" if confidence >= 0.995 else f"{round(confidence * 100)}%"
    open_link(client, read)
    page = text_of(client.get(path(read))).replace("&ldquo;", "“").replace("&rdquo;", "”")
    assert f'<p class="outcome">Read as: <strong>{digit}</strong></p>' in page
    assert f"The image “Scanned digit” was read as “{digit}”, with {shown} confidence." in page
    main = re.sub(r"<[^>]+>", "", page.split("<main", 1)[1])
    assert "Outcome:" not in main and "probability" not in main and "application" not in main
    assert "Ask a person to check what was read" in page and "Contest what was read" in page
    ask = text_of(client.get(path(read, "ask/human_intervention/")))
    assert "<h1>Ask a person to check what was read</h1>" in ask and "application" not in ask
    assert f"About the reading “{digit}”" in ask.replace("&ldquo;", "“").replace("&rdquo;", "”")
    contest = text_of(client.get(path(read, "ask/contest/")))
    assert "<h1>Contest what was read</h1>" in contest
    assert "If you think it was misread, say what it should have been read as." in contest
    requests.review_request_create(decision=read.decision, kind="human_intervention")
    assert "A person to check what was read" in text_of(client.get(path(read)))
    german = client.get(path(read), HTTP_ACCEPT_LANGUAGE="de").content.decode()  # keeps the no-break space
    shown_de = "mehr als 99\xa0%" if confidence >= 0.995 else f"{round(confidence * 100)}\xa0%"
    assert f"mit {shown_de} Sicherheit" in german


def test_a_credit_decision_still_speaks_of_deciding(client, mine_and_theirs):
    open_link(client, mine_and_theirs[0])
    page = text_of(client.get(path(mine_and_theirs[0])))
    assert f"Outcome: <strong>{mine_and_theirs[0].decision.outcome}</strong>" in page
    assert "Read as" not in page and "Ask for a person to decide" in page


def test_form_errors_are_summarised_and_tied_to_their_fields(client, mine_and_theirs):
    open_link(client, mine_and_theirs[0])
    page = text_of(client.post(path(mine_and_theirs[0], "ask/contest/"), {"contact_email": "not-an-address"}))
    assert "<title>Error: Contest" in page
    summary = re.search(r'<div class="error-summary" role="alert"(.*?)</div>', page).group(1)
    assert re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary) == [
        ("id_grounds_0", "Choose why you contest the decision"),
        ("id_statement", "Explain why you contest the decision"),
        ("id_contact_email", "Enter an e-mail address in the right format, like name@example.com"),
    ]
    ids = set(re.findall(r'\bid="([^"]+)"', page))
    described = [i for refs in re.findall(r'aria-describedby="([^"]+)"', page) for i in refs.split()]
    assert set(described) == {
        "id_grounds_error",
        "id_statement_helptext",
        "id_statement_error",
        "id_contact_email_helptext",
        "id_contact_email_error",
    }
    assert set(described) <= ids
    # The hint and the error come before the input they describe.
    statement = page.index('id="id_statement_helptext"'), page.index('id="id_statement_error"')
    assert statement[0] < statement[1] < page.index('<textarea name="statement"')
    assert '<a class="skip-link" href="#content">Skip to main content</a>' in page and 'id="content"' in page


def test_a_monitored_attribute_is_marked_as_not_used_to_decide():
    rows = [
        {"label": "Loan amount", "description": "", "value": "4870 DM", "is_image": False},
        {"label": "Age", "description": "", "value": "53 years", "is_image": False, "monitored": True},
    ]
    html = render_to_string("reviews/_data_used.html", {"data_rows": rows})
    body = html.split("<tbody>", 1)[1]
    note = "Recorded for fairness monitoring; not used to decide."
    assert [(row.split("<")[1].split(">")[1], note in row) for row in body.split("<tr")[1:]] == [
        ("Loan amount", False),
        ("Age", True),
    ]


# ---------------------------------------------------------------------------- API, subject scope
def subject_api(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_X_ACCESS_TOKEN=token)
    return api


def test_subject_api_reads_the_decision_and_makes_requests(mine_and_theirs):
    mine, theirs = mine_and_theirs
    api = subject_api(mine.access_token)
    body = api.get("/api/v1/subject/decision/").json()
    assert body["id"] == str(mine.decision.pk) and body["outcome"] == mine.decision.outcome
    assert 1 <= len(body["reasons"]) <= 4 and len(body["data_used"]) == 20
    assert body["counterfactuals"]["status"] == "done"
    created = api.post(
        "/api/v1/subject/requests/",
        data=json.dumps({"kind": "contest", "grounds": "reasoning", "statement": "I repaid every loan."}),
        content_type="application/json",
    )
    assert created.status_code == 201
    reference = created.json()["reference"]
    assert created.json()["status"] == "received" and created.json()["due_at"]
    assert api.get(f"/api/v1/subject/requests/{reference}/").json()["reference"] == reference
    # Their token opens neither my decision nor my request.
    other = subject_api(theirs.access_token)
    assert other.get(f"/api/v1/subject/requests/{reference}/").status_code == 404
    assert other.get("/api/v1/subject/decision/").json()["id"] == str(theirs.decision.pk)
    bad = api.post("/api/v1/subject/requests/", data={"kind": "contest"}, format="json")
    assert bad.status_code == 400 and "grounds" in bad.json()["errors"]


def test_subject_api_refuses_missing_and_bad_tokens(mine_and_theirs):
    assert APIClient().get("/api/v1/subject/decision/").status_code in (401, 403)
    assert subject_api("nope").get("/api/v1/subject/decision/").status_code == 404
    Decision.objects.filter(pk=mine_and_theirs[0].decision.pk).update(access_revoked_at=timezone.now())
    assert subject_api(mine_and_theirs[0].access_token).get("/api/v1/subject/decision/").status_code == 404


def test_access_can_be_revoked_through_the_api(integration, mine_and_theirs, client):
    mine = mine_and_theirs[0]
    open_link(client, mine)
    response = integration.post(f"/api/v1/decisions/{mine.decision.pk}/access/revoke/")
    assert response.status_code == 204
    assert client.get(path(mine)).status_code == 410  # the session's binding ends with the link
    assert client.get(link(mine)).status_code == 410
    assert AuditEvent.objects.filter(
        action=Action.SUBJECT_ACCESS_REVOKED, object_id=str(mine.decision.pk)
    ).exists()
