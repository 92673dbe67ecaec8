"""An auditor signs in with a real browser and reads the workspace at a desktop's width and a
phone's: the overview, fairness with its charts, drift over several weeks, the event timeline and
the export form. No page scrolls sideways, chart text renders at 12 px or more, every
aria-describedby names an element that exists, and axe-core finds nothing to fix.

The data are the tests' own lending model (three protected attributes it only monitors) with
decisions spread over five weeks, so the pages do not depend on the demo.
"""

from datetime import timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots"
WIDTHS = (1366, 390)

pytestmark = pytest.mark.e2e

# Everything the checks read, measured in the page as Chromium laid it out.
MEASURE = """() => {
  const chartText = [...document.querySelectorAll('.ov-chart svg text')].map(t => {
    const scale = t.getScreenCTM().a;
    return parseFloat(getComputedStyle(t).fontSize) * scale;
  });
  const described = [...document.querySelectorAll('[aria-describedby]')]
    .flatMap(el => el.getAttribute('aria-describedby').split(/\\s+/).filter(Boolean));
  const labelled = [...document.querySelectorAll('[aria-labelledby]')]
    .flatMap(el => el.getAttribute('aria-labelledby').split(/\\s+/).filter(Boolean));
  // Text of a chart that runs into other text of the same chart (a label into its PSI, say).
  const overlaps = [...document.querySelectorAll('.ov-chart svg')].flatMap(svg => {
    const boxes = [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()]);
    return boxes.flatMap(([a, p], i) => boxes.slice(i + 1)
      .filter(([, q]) => p.left < q.right - 1 && q.left < p.right - 1 && p.top < q.bottom - 1 && q.top < p.bottom - 1)
      .map(([b]) => a + ' / ' + b));
  });
  return {
    overlaps,
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    charts: document.querySelectorAll('.ov-chart svg[role=img]').length,
    smallestText: chartText.length ? Math.min(...chartText) : null,
    missingIds: [...described, ...labelled].filter(id => !document.getElementById(id)),
  };
}"""


@pytest.fixture
def ledger(transactional_db):
    from django.utils import timezone

    from tests.oversight.conftest import make_explanation
    from tests.oversight.lending import decide, lending_version, review_decides

    version = lending_version()
    now = timezone.now()
    statuses = ["male_single", "female_not_single", "male_married", "male_divorced"]
    for i in range(120):
        week = i % 5
        features = {
            "income": 1500 + 40 * i,
            "term_months": 12 + i % 48,
            "personal_status_sex": statuses[i % 4],
            "age_years": 20 + (i * 7) % 50 + 2 * week,
            "foreign_worker": "yes" if i % 6 == 0 else "no",
        }
        score = min(0.99, 0.15 + 0.006 * i + 0.02 * week)
        decision = decide(
            version,
            features,
            favourable=score >= 0.5,
            score=score,
            decided_at=now - timedelta(weeks=4 - week),
        )
        make_explanation(decision, {"income": 0.3 - 0.005 * i, "term_months": -0.1})
        if i in (3, 17):
            review_decides(decision, "approved", favourable=True)
    return version


def test_auditor_pages_at_desktop_and_phone_widths(ledger, live_server, browser, auditor):
    if not AXE.exists():
        pytest.skip(f"axe-core is missing at {AXE.relative_to(ROOT)}: run `npm ci` at the repository root")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages = {
        "overview": (f"/audit/versions/{ledger.pk}/", 1),
        "fairness": (f"/audit/versions/{ledger.pk}/fairness/", 3),
        "drift": (f"/audit/versions/{ledger.pk}/drift/?feature=age_years", 2),
        "events": ("/audit/events/", 0),
        "exports": ("/audit/exports/", 0),
    }
    # axe-core is injected as a script: the checking context sets the CSP aside for it alone.
    context = browser.new_context(locale="en-GB", bypass_csp=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/?next=/audit/")
    page.fill("#id_username", auditor.username)
    page.fill("#id_password", "pw-" + auditor.username)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/audit/")
    findings = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for name, (path, charts) in pages.items():
            page.goto(live_server.url + path)
            page.screenshot(path=str(SCREENSHOTS / f"auditor-{name}-{width}.png"), full_page=True)
            measured = page.evaluate(MEASURE)
            assert measured["overflow"] <= 0, (name, width, measured)
            assert measured["charts"] == charts, (name, width)
            if charts:
                assert measured["smallestText"] >= 12, (name, width, measured)
            assert measured["missingIds"] == [], (name, width)
            assert measured["overlaps"] == [], (name, width)
            page.add_script_tag(path=str(AXE))
            result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
            findings[(name, width)] = [
                (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
            ]
    assert {k: v for k, v in findings.items() if v} == {}

    # German words are longer: the charts still fit a phone without text running into text.
    context.add_cookies([{"name": "django_language", "value": "de", "url": live_server.url}])
    page.set_viewport_size({"width": 390, "height": 900})
    for name in ("fairness", "drift"):
        page.goto(live_server.url + pages[name][0])
        assert page.locator("html").get_attribute("lang") == "de"
        page.screenshot(path=str(SCREENSHOTS / f"auditor-{name}-390-de.png"), full_page=True)
        measured = page.evaluate(MEASURE)
        assert (measured["overflow"], measured["overlaps"]) == (0, []), name
    context.clear_cookies(name="django_language")

    # What the pages say, read as a person reads them.
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/audit/versions/{ledger.pk}/")
    assert page.inner_text("#n-decisions") == "120" and page.inner_text("#n-human") == "2"
    page.goto(f"{live_server.url}/audit/versions/{ledger.pk}/fairness/")
    headings = page.locator("section h2").all_inner_texts()
    assert [h.split("\n")[0].replace(" below four-fifths", "") for h in headings] == [
        "Sex and marital status",
        "Age",
        "Foreign worker",
    ]
    page.goto(f"{live_server.url}/audit/versions/{ledger.pk}/drift/")
    assert page.locator("#score-chart text", has_text="week of").count() == 5
    context.close()
