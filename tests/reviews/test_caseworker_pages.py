"""The caseworker's case page built for deciding, and the queue's outcome in force.

The request, the person's statement, the outcome in force and the actions come first, in plain
words about "the person"; the model card has labels and readable values; the overturn form never
offers the outcome in force, before or after an error; a later review sees the earlier one.
"""

import re
from html import escape

import pytest

from decisions.models import Decision
from reviews.models import ReviewRequest
from reviews.services import casework
from tests.conftest import client_for
from tests.reviews.test_caseworker import RATIONALE, decide, open_requests

pytestmark = pytest.mark.django_db
OPTIONS = re.compile(r'<select name="overturn-new_outcome"[^>]*>(.*?)</select>', re.S)


@pytest.fixture
def case(credit_version, credit_trained):
    return open_requests(decide(credit_version, credit_trained.sample_rows[:1]))[0]


@pytest.fixture
def two_requests(credit_version, credit_trained):
    """A contest and a request for a person to decide, about the same decision."""
    recorded = decide(credit_version, credit_trained.sample_rows[:1])
    return open_requests(recorded * 2, kinds=("contest", "human_intervention"))


def other(outcome: str) -> str:
    return "approved" if outcome == "refused" else "refused"


def offered(page: str) -> list[str]:
    return re.findall(r'<option value="([^"]*)"', OPTIONS.search(page).group(1))


def without_charts(page: str) -> str:
    # The waterfall's own labels come from explanations/render.py, which the person's page shares.
    return re.sub(r"<svg.*?</svg>", "", page, flags=re.S)


def test_the_request_statement_outcome_and_actions_come_before_the_rest(case, caseworker):
    page = client_for(caseworker).get(f"/cases/{case.reference}/").content.decode()
    markers = [
        'id="statement-title"',
        case.statement,
        'id="in-force-title"',
        'name="overturn-rationale"',
        ">Uphold</button>",
        ">Overturn</button>",
        'id="why-title"',
        'id="data-title"',
        'id="card-title"',
        'id="history-title"',
    ]
    positions = [page.index(marker) for marker in markers]
    assert positions == sorted(positions)
    in_force = page[page.index('id="in-force-title"') : page.index('id="act-title"')]
    assert f"<strong>{case.decision.outcome}</strong>" in in_force and "Decided by the model" in in_force


def test_the_page_speaks_of_the_person_and_the_model_card_in_plain_words(case, caseworker):
    page = without_charts(client_for(caseworker).get(f"/cases/{case.reference}/").content.decode())
    assert "your details" not in page.lower() and "Your value" not in page
    assert "The person's details used for the decision" in page and "The person's value" in page
    # The model card: labels and readable values, never a Python dict or a raw key.
    assert "{&#x27;" not in page and "test_auc" not in page and "n_train" not in page
    auc = case.decision.model_version.training["metrics"]["test_auc"]
    assert re.search(rf"<dt>Area under the ROC curve</dt><dd>{auc}</dd>", page)
    assert "<dt>Rows used for training</dt><dd>800</dd>" in page
    assert "<dt>Training settings</dt><dd><details><summary>Show" in page  # long, so folded
    sha = case.decision.model_version.artifact_sha256
    assert f'<code class="hash">{sha}</code>' in page  # wraps (staff.css), never overflows


@pytest.mark.parametrize(
    "body",
    [
        {"overturn-rationale": ""},  # no reasons
        {"overturn-rationale": RATIONALE, "overturn-new_outcome": "{in_force}"},  # the outcome in force
        {"overturn-rationale": RATIONALE, "overturn-new_outcome": ""},  # no outcome chosen
    ],
)
def test_after_an_error_the_overturn_form_never_offers_the_outcome_in_force(case, caseworker, body):
    client = client_for(caseworker)
    in_force = case.decision.outcome
    assert offered(client.get(f"/cases/{case.reference}/").content.decode()) == [other(in_force)]
    body = {k: v.format(in_force=in_force) for k, v in body.items()}
    refused = client.post(f"/cases/{case.reference}/overturn/", body)
    assert refused.status_code == 400
    page = refused.content.decode()
    assert offered(page) == [other(in_force)]
    assert 'class="error-summary" role="alert"' in page
    case.refresh_from_db()
    assert case.status == "received" and not Decision.objects.filter(kind=Decision.Kind.HUMAN).exists()


def test_a_later_review_works_on_the_outcome_in_force_and_shows_the_earlier_one(two_requests, caseworker):
    first, second = two_requests
    automated = first.decision.outcome
    changed = other(automated)
    casework.review_overturn(request=first, user=caseworker, new_outcome=changed, rationale=RATIONALE)
    client = client_for(caseworker)
    page = client.get(f"/cases/{second.reference}/").content.decode()
    in_force = page[page.index('id="in-force-title"') : page.index('id="act-title"')]
    assert f"<strong>{changed}</strong>" in in_force and f"on review {first.reference}" in in_force
    assert offered(page) == [automated]
    earlier = page[page.index('id="earlier-title"') : page.index('class="on-this-page"')]
    assert f"Changed “{automated}” to “{changed}”" in earlier
    assert escape(RATIONALE) in earlier and "casey" in earlier and first.reference in earlier
    # After an error, still only the outcome that would change the one in force.
    refused = client.post(f"/cases/{second.reference}/overturn/", {"overturn-rationale": "short"})
    assert refused.status_code == 400 and offered(refused.content.decode()) == [automated]


def test_a_decision_on_an_outcome_changed_since_the_page_was_opened_is_refused(two_requests, caseworker):
    first, second = two_requests
    client = client_for(caseworker)
    seen = re.search(
        r'name="overturn-in_force" value="([^"]+)"',
        client.get(f"/cases/{second.reference}/").content.decode(),
    ).group(1)
    assert seen == str(second.decision_id)
    casework.review_overturn(
        request=first, user=caseworker, new_outcome=other(first.decision.outcome), rationale=RATIONALE
    )
    refused = client.post(
        f"/cases/{second.reference}/uphold/", {"overturn-rationale": RATIONALE, "overturn-in_force": seen}
    )
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "the outcome in force changed since you opened this case" in page
    first.refresh_from_db()
    # The page now carries the outcome in force, so deciding again after reading works.
    assert f'name="overturn-in_force" value="{first.human_decision_id}"' in page
    second.refresh_from_db()
    assert second.is_open
    again = client.post(
        f"/cases/{second.reference}/uphold/",
        {"overturn-rationale": RATIONALE, "overturn-in_force": str(first.human_decision_id)},
    )
    assert again.status_code == 302
    second.refresh_from_db()
    assert second.status == ReviewRequest.Status.UPHELD


def test_every_aria_describedby_names_an_element_of_the_page(case, caseworker):
    client = client_for(caseworker)
    pages = [
        client.get(f"/cases/{case.reference}/"),
        client.post(f"/cases/{case.reference}/overturn/", {"overturn-rationale": "short"}),
        client.post(f"/cases/{case.reference}/ask/", {"ask-question": ""}),
        client.post(f"/cases/{case.reference}/extend/", {"extend-months": "7", "extend-reason": ""}),
    ]
    for response in pages:
        page = response.content.decode()
        ids = set(re.findall(r'\sid="([^"]+)"', page))
        described = [i for value in re.findall(r'aria-describedby="([^"]+)"', page) for i in value.split()]
        assert described and set(described) <= ids, set(described) - ids


def test_the_queue_shows_the_outcome_in_force(two_requests, caseworker):
    first, second = two_requests
    changed = other(first.decision.outcome)
    casework.review_overturn(request=first, user=caseworker, new_outcome=changed, rationale=RATIONALE)
    page = client_for(caseworker).get("/cases/").content.decode()
    row = next(r for r in page.split("<tr") if f"/cases/{second.reference}/" in r)
    assert f'data-label="Outcome in force">{changed} <span class="badge">changed on review</span>' in row


def test_the_queue_links_to_the_signals_only_for_supervisors(case, caseworker):
    assert 'href="/cases/signals/"' not in client_for(caseworker).get("/cases/").content.decode()
    caseworker.is_staff = True
    caseworker.save()
    page = client_for(caseworker).get("/cases/").content.decode()
    main = page[page.index("<main") :]
    assert 'href="/cases/signals/"' in main
    assert client_for(caseworker).get("/cases/signals/").status_code == 200
