"""The whole Article 22 road in a real browser, against a live server and a real Celery worker.

The subject opens their link, reads the reasons and the chart, and contests; a caseworker signs
in, finds the case at the top of the queue and overturns it with a rationale; the subject sees
the new outcome and the rationale. Every page is saved to var/screenshots/, and axe-core checks
the subject's pages for serious or critical accessibility violations.

Needs Debian's Chromium (/usr/bin/chromium) and axe-core from npm (`npm ci` at the repository
root); the test is skipped, saying which is missing, without them.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

import pytest

from explanations.models import Explanation
from reviews.models import ReviewRequest
from tests.services import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots"
RATIONALE = (
    "The applicant's bank statement shows savings of 1,200 DM, not under 100 DM as recorded. "
    "With the corrected savings the loan is affordable, so I approve it."
)


@pytest.fixture
def axe(browser):
    """The browser, with axe-core at hand for the accessibility checks."""
    if not AXE.exists():
        pytest.skip(f"axe-core is missing at {AXE.relative_to(ROOT)}: run `npm ci` at the repository root")
    return browser


class Shots:
    def __init__(self):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.n = 0

    def __call__(self, page, name: str) -> None:
        self.n += 1
        page.screenshot(path=str(SCREENSHOTS / f"article22-{self.n:02d}-{name}.png"), full_page=True)


def axe_violations(page) -> list[dict]:
    """Serious and critical axe-core violations of the page as loaded."""
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_subject_contests_caseworker_overturns_subject_reads_the_outcome(
    # The database fixtures first: the session-wide live server then stops before the test
    # database is dropped (fixtures are torn down in reverse order of setup).
    transactional_db,
    worker,
    integration,
    credit_version,
    credit_trained,
    caseworker,
    live_server,
    axe,
):
    browser = axe
    shot = Shots()
    # The controller's system records decisions; pick a refused applicant.
    payload = {
        "decisions": [
            {"model": "credit-risk", "subject_ref": f"e2e-{i}", "features": row}
            for i, row in enumerate(credit_trained.sample_rows[:12])
        ]
    }
    created = integration.post(
        "/api/v1/decisions/bulk/", data=json.dumps(payload), content_type="application/json"
    ).json()["decisions"]
    refused = [d for d in created if d["outcome"] == "refused"]
    assert len(refused) >= 2, "the sample should hold refused applicants"
    mine, someone_else = refused[0], refused[1]
    wait_until(
        lambda: (
            Explanation.objects.filter(status="done", counterfactuals__isnull=False).count() == len(created)
        ),
        timeout=45,
        what="explanations and counterfactuals from the worker",
        state=lambda: list(Explanation.objects.values_list("status", flat=True)),
    )
    link = live_server.url + urlparse(mine["subject_access_url"]).path

    # ------------------------------------------------------------------ the subject reads
    subject = browser.new_context(locale="en-GB", java_script_enabled=False)  # works without JavaScript
    page = subject.new_page()
    page.goto(link)
    # The link's token is exchanged for a session: the page's address no longer holds it.
    assert page.url == f"{live_server.url}/access/decision/{mine['id']}/"
    assert page.locator("h1").inner_text() == "The decision about you"
    assert page.locator(".outcome strong").first.inner_text() == "refused"
    reasons = page.locator("ol.reasons > li")
    assert 1 <= reasons.count() <= 4
    assert "toward the outcome “refused”" in reasons.first.inner_text()
    assert page.locator("svg.waterfall[role=img]").count() == 1
    assert page.locator("table.data-used tbody tr").count() == 20
    assert page.locator("ul.counterfactuals li").count() >= 1
    shot(page, "subject-decision")
    subject.close()

    # axe needs JavaScript; a second context runs it on the same pages. It is injected as an inline
    # script, which the site's Content-Security-Policy refuses: this context alone bypasses it.
    checker = browser.new_context(locale="en-GB", bypass_csp=True)
    audit_page = checker.new_page()
    audit_page.goto(link)
    assert axe_violations(audit_page) == []

    page = browser.new_context(locale="en-GB", java_script_enabled=False).new_page()
    page.goto(link)
    page.get_by_role("link", name="Contest the decision").click()
    assert page.locator("h1").inner_text() == "Contest the decision"
    shot(page, "subject-contest-form")
    audit_page.goto(page.url)
    assert axe_violations(audit_page) == []
    page.get_by_label("The data used about me is wrong or incomplete").check()
    page.get_by_label("Explain in your own words").fill(
        "My savings are 1,200 DM, not under 100 DM. I can send the bank statement."
    )
    page.get_by_role("button", name="Send my request").click()
    assert page.locator("h1").inner_text() == "We received your request"
    request = ReviewRequest.objects.get(decision_id=mine["id"])
    confirmation = page.locator(".confirmation").inner_text()
    assert request.reference in confirmation and request.due_at.strftime("%-d %B %Y") in confirmation
    shot(page, "subject-confirmation")
    audit_page.goto(page.url)
    assert axe_violations(audit_page) == []

    # Someone else's request comes later: ours is due first.
    integration_path = urlparse(someone_else["subject_access_url"]).path
    other = browser.new_context(java_script_enabled=False).new_page()
    other.goto(live_server.url + integration_path)
    other.goto(other.url + "ask/human_intervention/")
    other.get_by_role("button", name="Send my request").click()
    assert ReviewRequest.objects.count() == 2

    # ------------------------------------------------------------------ the caseworker reviews
    staff = browser.new_context(locale="en-GB").new_page()
    staff.goto(live_server.url + "/accounts/login/")
    staff.get_by_label("Username").fill("casey")
    staff.get_by_label("Password").fill("pw-casey")
    staff.get_by_role("button", name="Sign in").click()
    staff.get_by_role("link", name="Review queue").first.click()
    first_row = staff.locator("table.queue tbody tr").first
    assert request.reference in first_row.inner_text()
    shot(staff, "caseworker-queue")
    first_row.get_by_role("button", name="Take").click()
    assert staff.locator("h1").inner_text().startswith(f"Case {request.reference}")
    assert "My savings are 1,200 DM" in staff.locator("blockquote").first.inner_text()
    assert staff.locator("svg.waterfall").count() == 1
    shot(staff, "caseworker-case")
    staff.get_by_label("New outcome").select_option("approved")
    staff.locator("#id_overturn-rationale").fill(RATIONALE)
    staff.get_by_role("button", name="Overturn", exact=True).click()
    assert "decision overturned" in staff.locator(".messages").inner_text()
    shot(staff, "caseworker-overturned")
    request.refresh_from_db()
    assert request.status == "overturned" and request.human_decision.outcome == "approved"

    # ------------------------------------------------------------------ the subject reads the outcome
    page.goto(link)
    reviewed = page.locator("section.reviewed")
    assert "A person has reviewed this decision" in reviewed.inner_text()
    assert reviewed.locator("strong").first.inner_text() == "approved"
    shot(page, "subject-decision-reviewed")
    audit_page.goto(link)
    assert axe_violations(audit_page) == []
    # The request is linked from the outcome's history too; this is the one under "Your requests".
    page.get_by_role("link", name=request.reference).first.click()
    assert "Decision changed" in page.locator("dl.facts").inner_text()
    assert page.locator("blockquote.rationale").inner_text().strip() == RATIONALE
    shot(page, "subject-request-outcome")
    audit_page.goto(page.url)
    assert axe_violations(audit_page) == []
