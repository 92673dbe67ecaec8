"""The person's pages in Chromium at a desktop's, a phone's and the narrowest phone's width.

For a credit decision (with a request, whose list once made the page scroll sideways), a digit
read from a form, and the contest form sent empty: nothing scrolls sideways, every chart's text is
at least 12 px as drawn, every aria-describedby and aria-labelledby names an element that exists,
the error summary links to its fields, the skip link is the first stop, and axe-core finds
nothing. Screenshots go to var/e2e/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.cache import cache

from audit.services import Actor
from decisions.recording import DecisionInput
from explanations.drain import explanation_drain
from explanations.recording import decision_record_many
from reviews.services.requests import review_request_create
from tests.conftest import register

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "e2e"
WIDTHS = (1366, 390, 320)
MIN_CHART_TEXT_PX = 12

SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
# Each visible text of an SVG in the page, with its size as drawn: its font size times the scale
# its SVG is drawn at (a viewBox shrunk to a narrow column shrinks its text with it).
CHART_TEXT = """() => Array.from(document.querySelectorAll('main svg text'))
  .filter(t => t.getClientRects().length > 0)
  .map(t => ({svg: t.closest('svg').getAttribute('class'), text: t.textContent,
              px: parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a}))"""
MISSING_IDS = """() => Array.from(document.querySelectorAll('[aria-describedby], [aria-labelledby]'))
  .flatMap(el => ['aria-describedby', 'aria-labelledby'].flatMap(a => (el.getAttribute(a) || '')
    .split(/\\s+/).filter(id => id && !document.getElementById(id))
    .map(id => `${el.tagName.toLowerCase()} ${a}=${id}`)))"""


@pytest.fixture
def pages(transactional_db, live_server, credit_trained, digits_trained):
    """A refused credit decision with a request on it, a digit read from a form; their links."""
    cache.clear()  # the wrong-link throttle counts per address: every test starts from none
    credit, digits = register(credit_trained), register(digits_trained)
    recorded = decision_record_many(
        items=[
            *(
                DecisionInput(model="credit-risk", features=row, subject_ref=f"page-{i}")
                for i, row in enumerate(credit_trained.sample_rows[:6])
            ),
            DecisionInput(model="digit-reader", features=digits_trained.sample_rows[0], subject_ref="form-1"),
        ],
        actor=Actor.system("e2e"),
    )
    explanation_drain(model_version_id=credit.pk)
    explanation_drain(model_version_id=digits.pk)
    refused = next(r for r in recorded if r.decision.outcome == "refused")
    review_request_create(
        decision=refused.decision,
        kind="contest",
        grounds="data_wrong",
        statement="My savings are 1,200 DM, not under 100 DM.",
        contact_email="someone.with.a.long.address@example.org",
    )
    review_request_create(decision=refused.decision, kind="human_intervention")
    return {
        "credit": f"{live_server.url}/access/{refused.access_token}/",
        "digit": f"{live_server.url}/access/{recorded[-1].access_token}/",
    }


@pytest.fixture
def checker(browser):
    """A context that runs axe-core: it is injected as an inline script, which the site's
    Content-Security-Policy refuses, so this context alone bypasses the policy."""
    if not AXE.exists():
        pytest.skip(f"axe-core is missing at {AXE.relative_to(ROOT)}: run `npm ci` at the repository root")
    context = browser.new_context(locale="en-GB", bypass_csp=True)
    yield context
    context.close()


def axe_violations(page) -> list[dict]:
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result["violations"]]


def check_page(page, name: str, width: int) -> list[dict]:
    """What every page must hold at every width, with its folded parts (the chart's table) open;
    returns its chart texts for the caller."""
    page.set_viewport_size({"width": width, "height": 900})
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
    assert page.evaluate(SIDEWAYS) == 0, f"{name} scrolls sideways at {width} px"
    texts = page.evaluate(CHART_TEXT)
    small = [t for t in texts if t["px"] < MIN_CHART_TEXT_PX]
    assert small == [], f"{name} at {width} px draws chart text under {MIN_CHART_TEXT_PX} px"
    assert page.evaluate(MISSING_IDS) == [], f"{name} at {width} px"
    assert axe_violations(page) == [], f"{name} at {width} px"
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / f"subject-{name}-{width}.png"), full_page=True)
    return texts


def test_the_decision_pages_fit_every_screen(pages, checker):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = checker.new_page()
    page.goto(pages["credit"])
    assert page.locator("[aria-labelledby=requests-title] a[href*='/requests/']").count() == 2
    drawn = {}
    for width in WIDTHS:
        texts = check_page(page, "credit", width)
        drawn[width] = {t["svg"] for t in texts}
    # A desktop draws the wide chart at its own size, a phone the narrow one: never one scaled down.
    assert drawn == {1366: {"waterfall"}, 390: {"waterfall-narrow"}, 320: {"waterfall-narrow"}}
    # The skip link is the first stop and leads to the main content.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "content"

    # German words are longer: the narrowest phone still fits them.
    german = checker.browser.new_context(locale="de-DE", bypass_csp=True).new_page()
    german.goto(pages["credit"])
    assert german.locator("h1").inner_text() == "Die Entscheidung über Sie"
    check_page(german, "credit-de", 320)

    page.goto(pages["digit"])
    outcome = page.locator("p.outcome").first.inner_text()
    reading = page.locator("p.reading").inner_text()
    assert outcome == "Read as: 1" and reading.startswith("The image “Scanned digit” was read as “1”, with ")
    assert reading.endswith("% confidence.")
    assert "estimated probability" not in page.content() and "Outcome:" not in page.inner_text("main")
    for width in WIDTHS:
        check_page(page, "digit", width)


def test_the_contest_form_with_errors_leads_to_each_field(pages, checker):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = checker.new_page()
    page.goto(pages["credit"])  # the link binds this browser's session to the decision
    page.goto(page.url + "ask/contest/")
    page.get_by_role("button", name="Send my request").click()
    assert page.title().startswith("Error: ")
    summary = page.locator(".error-summary")
    assert summary.get_attribute("role") == "alert"
    # The summary has the focus, so a screen reader reads it first.
    assert page.evaluate("() => document.activeElement.className") == "error-summary"
    links = summary.locator("a")
    assert [links.nth(i).inner_text() for i in range(links.count())] == [
        "Choose why you contest the decision",
        "Explain why you contest the decision",
    ]
    for i, field in enumerate(("id_grounds_0", "id_statement")):
        assert links.nth(i).get_attribute("href") == f"#{field}"
        links.nth(i).click()
        assert page.evaluate("() => document.activeElement.id") == field
    # Each error is tied to its field, after its hint.
    assert (
        page.get_attribute("#id_statement", "aria-describedby") == "id_statement_helptext id_statement_error"
    )
    assert page.get_attribute("fieldset", "aria-describedby") == "id_grounds_error"
    error = " ".join(page.text_content("#id_statement_error").split())
    assert error == "Error: Explain why you contest the decision"
    for width in WIDTHS:
        check_page(page, "contest-errors", width)
