"""The caseworker's case page and a refused page in Chromium, at a desktop's and a phone's width.

The case page puts the decision first: Uphold and Overturn within the first 900 px, no sideways
scrolling, every `aria-describedby` pointing at an element that exists, axe-core finding nothing
serious, a keyboard reaching the reasons, Uphold, the new outcome and Overturn in that order with
the focus visible; after an error the same holds and the outcome in force is not offered. The
queue does not scroll sideways either. A caseworker opening a supervisor's page gets the 403 page in the site's layout saying what to do.
Screenshots go to var/screenshots/.

Needs Debian's Chromium and axe-core from npm (`npm ci`); skipped, saying which is missing, without.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.services import Actor
from decisions.recording import DecisionInput
from explanations.drain import explanation_drain
from explanations.recording import decision_record_many
from reviews.services import casework, requests

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots"
WIDTHS = {"desktop": 1366, "phone": 390}
HEIGHT = 900
STATEMENT = (
    "My savings are 1,200 DM, not under 100 DM as recorded: the bank statement I can send shows it. "
    "I have also worked for the same employer for six years, not two. With the right figures I "
    "believe the loan would have been approved."
)
MISSING_DESCRIPTIONS = """() => [...document.querySelectorAll('[aria-describedby]')].flatMap(
    el => el.getAttribute('aria-describedby').split(/\\s+/).filter(id => !document.getElementById(id)))"""


@pytest.fixture
def axe(browser):
    if not AXE.exists():
        pytest.skip(f"axe-core is missing at {AXE.relative_to(ROOT)}: run `npm ci` at the repository root")
    return browser


def axe_violations(page) -> list[dict]:
    """Serious and critical axe-core violations of the page as loaded."""
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def signed_in(browser, live_server, username: str, width: int):
    # axe is injected as an inline script, which the site's Content-Security-Policy refuses: these
    # test contexts bypass it (the pages themselves need no script).
    context = browser.new_context(
        locale="en-GB", viewport={"width": width, "height": HEIGHT}, bypass_csp=True
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pw-" + username)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")
    return page


def a_refused_case(credit_version, credit_trained, caseworker):
    recorded = decision_record_many(
        items=[
            DecisionInput(model="credit-risk", features=row, subject_ref=f"e2e-{i}")
            for i, row in enumerate(credit_trained.sample_rows[:12])
        ],
        actor=Actor.system("e2e"),
    )
    explanation_drain(model_version_id=credit_version.pk)
    refused = next(r.decision for r in recorded if r.decision.outcome == "refused")
    case = requests.review_request_create(
        decision=refused, kind="contest", grounds="data_wrong", statement=STATEMENT
    )
    return casework.review_take(request=case, user=caseworker)


def assert_fit_for_deciding(page, where: str) -> None:
    for name in ("Uphold", "Overturn"):
        box = page.get_by_role("button", name=name, exact=True).bounding_box()
        assert box is not None and box["y"] + box["height"] <= HEIGHT, (where, name, box)
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], (where, "scrolls sideways", widths)
    assert page.evaluate(MISSING_DESCRIPTIONS) == [], where
    assert axe_violations(page) == [], where


def test_the_case_page_is_built_for_deciding(
    # The database fixtures first: the live server then stops before the test database is dropped.
    transactional_db,
    credit_version,
    credit_trained,
    caseworker,
    live_server,
    axe,
):
    case = a_refused_case(credit_version, credit_trained, caseworker)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    url = f"{live_server.url}/cases/{case.reference}/"
    for size, width in WIDTHS.items():
        page = signed_in(axe, live_server, "casey", width)
        page.goto(url)
        assert page.locator("h1").inner_text().startswith(f"Case {case.reference}")
        assert "My savings are 1,200 DM" in page.locator("blockquote.statement").inner_text()
        assert page.locator(".in-force strong").inner_text() == "refused"
        page.screenshot(path=str(SCREENSHOTS / f"caseworker-case-{size}.png"))
        page.screenshot(path=str(SCREENSHOTS / f"caseworker-case-{size}-full.png"), full_page=True)
        assert_fit_for_deciding(page, size)

        # The keyboard goes from the reasons to Uphold, the new outcome and Overturn, and shows
        # where it is.
        page.focus("#id_overturn-rationale")
        order = []
        for _ in range(3):
            page.keyboard.press("Tab")
            order.append(
                page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()")
            )
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline == "solid", (size, order[-1], outline)
        assert order == ["Uphold", "id_overturn-new_outcome", "Overturn"], size

        # Overturn without reasons: the errors are tied to their fields, and the outcome in force
        # is still not offered as the new one.
        page.get_by_role("button", name="Overturn", exact=True).click()
        assert page.locator(".error-summary").is_visible()
        assert page.locator("#id_overturn-rationale").get_attribute("aria-describedby") == (
            "id_overturn-rationale_helptext id_overturn-rationale_error"
        )
        offered = page.locator("#id_overturn-new_outcome option").all_inner_texts()
        assert offered == ["approved"], (size, offered)
        page.screenshot(path=str(SCREENSHOTS / f"caseworker-case-{size}-error.png"))
        assert_fit_for_deciding(page, f"{size}, after an error")

        # The queue: the outcome in force, a row per request, no sideways scrolling either.
        page.goto(f"{live_server.url}/cases/")
        row = page.locator("table.queue tbody tr").first
        assert case.reference in row.inner_text() and "refused" in row.inner_text()
        page.screenshot(path=str(SCREENSHOTS / f"caseworker-queue-{size}.png"), full_page=True)
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], (size, "queue", widths)
        assert axe_violations(page) == [], (size, "queue")
        page.context.close()

    case.refresh_from_db()
    assert case.status == "in_review" and case.human_decision is None


def test_a_forbidden_page_is_the_sites_403_page_saying_what_to_do(
    transactional_db, caseworker, live_server, axe
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for size, width in WIDTHS.items():
        page = signed_in(axe, live_server, "casey", width)
        response = page.goto(f"{live_server.url}/cases/signals/")
        assert response.status == 403
        assert page.locator("h1").inner_text() == "You cannot open this page"
        # The site's layout and its stylesheet: the header, its rule, the page's font.
        header = page.locator("header.site-header")
        assert header.is_visible() and "Review queue" in header.inner_text()
        assert (
            page.evaluate("getComputedStyle(document.querySelector('.site-header')).borderBottomStyle")
            == "solid"
        )
        assert "Times" not in page.evaluate("getComputedStyle(document.body).fontFamily")
        body = page.locator("main").inner_text()
        assert "This page is for supervisors" in body and "You are signed in as casey" in body
        assert "ask your administrator" in body
        page.locator("main").get_by_role("link", name="Go to the review queue").click()
        assert page.locator("h1").inner_text() == "Review queue"
        page.go_back()
        page.screenshot(path=str(SCREENSHOTS / f"forbidden-{size}.png"), full_page=True)
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], (size, widths)
        assert axe_violations(page) == [], size
        page.context.close()
