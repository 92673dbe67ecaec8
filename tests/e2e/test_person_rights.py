"""Issue 20's pages in Chromium at a desktop's and a phone's width: the person's "Some of my data is
wrong" form (with an error, then sent), the caseworker's page deciding the corrections, a new link
for the person shown once, the ended link's page (410), and the auditor's erasure form and result.

On each: nothing scrolls sideways, every aria-describedby and aria-labelledby names an element
that exists, and axe-core finds nothing. Screenshots go to var/e2e/. The re-decision's explanation
is left to the worker: only the pages are checked here.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils import timezone

from audit.services import Actor
from decisions.models import Decision
from decisions.recording import DecisionInput
from explanations.drain import explanation_drain
from explanations.recording import decision_record_many
from reviews.services.requests import review_request_create

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "e2e"
WIDTHS = (1366, 390)

SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
MISSING_IDS = """() => Array.from(document.querySelectorAll('[aria-describedby], [aria-labelledby]'))
  .flatMap(el => ['aria-describedby', 'aria-labelledby'].flatMap(a => (el.getAttribute(a) || '')
    .split(/\\s+/).filter(id => id && !document.getElementById(id))
    .map(id => `${el.tagName.toLowerCase()} ${a}=${id}`)))"""
# The elements wider than the window, to say which one makes a page scroll sideways.
WIDE = """() => Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
 .map(e => `${e.tagName}.${e.className}#${e.id} w=${Math.round(e.getBoundingClientRect().width)} r=${Math.round(e.getBoundingClientRect().right)}`).slice(0, 15)"""
REASONS = "The bank statement the person sent shows savings of 1,200 DM, as they say."


@pytest.fixture
def refused(transactional_db, credit_version, credit_trained):
    """A refused credit decision and its access link."""
    cache.clear()  # the wrong-link throttle counts per address
    recorded = decision_record_many(
        items=[
            DecisionInput(model="credit-risk", features=row, subject_ref=f"rights-{i}")
            for i, row in enumerate(credit_trained.sample_rows[:12])
        ],
        actor=Actor.system("e2e"),
    )
    explanation_drain(model_version_id=credit_version.pk)
    return next(r for r in recorded if r.decision.outcome == "refused")


@pytest.fixture
def context(browser):
    """axe-core is injected as an inline script, which the site's Content-Security-Policy refuses:
    this context alone bypasses the policy."""
    if not AXE.exists():
        pytest.skip(f"axe-core is missing at {AXE.relative_to(ROOT)}: run `npm ci` at the repository root")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(locale="en-GB", bypass_csp=True)
    yield context
    context.close()


def axe_violations(page) -> list[dict]:
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result["violations"]]


def check_page(page, name: str, *, sideways: bool = True) -> None:
    """At each width, with folded parts open: no sideways scroll (unless `sideways` is False: see
    test_the_correction_form_fits_a_phone), no dangling ids, axe clean."""
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        if sideways:
            assert page.evaluate(SIDEWAYS) == 0, (
                f"{name} scrolls sideways at {width} px",
                page.evaluate(WIDE),
            )
        assert page.evaluate(MISSING_IDS) == [], f"{name} at {width} px"
        assert axe_violations(page) == [], f"{name} at {width} px"
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOTS / f"rights-{name}-{width}.png"), full_page=True)


def sign_in(context, live_server, username: str, then: str):
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/?next={then}")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-" + username)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}{then}")
    return page


def test_a_person_corrects_their_data_and_a_caseworker_accepts(refused, live_server, caseworker, context):
    page = context.new_page()
    page.goto(f"{live_server.url}/access/{refused.access_token}/")
    page.get_by_role("link", name="Some of my data is wrong").click()
    assert page.locator("h1").inner_text() == "Some of my data is wrong"
    check_page(page, "rectify-form")

    # A wrong address and no correction: the summary has the focus and leads to the field.
    page.fill("#id_contact_email", "not an address")
    page.get_by_role("button", name="Send my corrections").click()
    assert page.title().startswith("Error: ")
    summary = page.locator(".error-summary")
    assert page.evaluate("() => document.activeElement.className") == "error-summary"
    link = summary.locator("a").first
    assert link.get_attribute("href") == "#id_contact_email"
    link.click()
    assert page.evaluate("() => document.activeElement.id") == "id_contact_email"
    assert "id_contact_email_error" in page.get_attribute("#id_contact_email", "aria-describedby")
    check_page(page, "rectify-form-errors")

    # A categorical detail set to a value other than the one used, and a valid address.
    select = page.locator("select[name^='value_']").first
    hint = page.locator(f"#{select.get_attribute('aria-describedby').split()[0]}").inner_text()
    labels = select.locator("option").all_inner_texts()[1:]
    other = next(label for label in labels if f"We used: {label}." not in hint)
    select.select_option(label=other)
    page.fill("#id_contact_email", "someone@example.org")
    page.get_by_role("button", name="Send my corrections").click()
    page.wait_for_url(lambda url: "/requests/" in url and "?new=1" in url)
    reference = page.url.rstrip("/").split("/requests/")[1].split("/")[0]
    check_page(page, "rectify-sent")

    staff = sign_in(context, live_server, "casey", f"/cases/{reference}/rectify/")
    assert staff.locator("h1").inner_text() == "Proposed corrections"
    assert other in staff.locator("table").inner_text()
    check_page(staff, "caseworker-rectify")
    # Sent without a choice: the errors, still clean.
    staff.get_by_role("button", name="Decide the corrections").click()
    assert staff.title().startswith("Error: ")
    check_page(staff, "caseworker-rectify-errors")
    staff.locator("input[type=radio][value=accept]").first.check()
    staff.fill("#id_rectify-rationale", REASONS)
    staff.get_by_role("button", name="Decide the corrections").click()
    staff.wait_for_url(f"{live_server.url}/cases/{reference}/")
    assert f"Case {reference}: corrections decided." in staff.inner_text("main")


def test_a_caseworker_gives_a_new_link_and_the_old_one_ends(refused, live_server, caseworker, context):
    case = review_request_create(
        decision=refused.decision, kind="contest", grounds="data_wrong", statement="My savings are wrong."
    )
    old = f"{live_server.url}/access/{refused.access_token}/"
    staff = sign_in(context, live_server, "casey", f"/cases/{case.reference}/")
    staff.locator("#access summary").click()
    staff.get_by_role("button", name="Issue a new link").click()
    assert staff.locator("h1").inner_text() == "A new link for the person"
    new = staff.locator("#new-link").inner_text()
    assert new.endswith("/") and "/access/" in new and refused.access_token not in new
    check_page(staff, "access-reissued")

    # The old link is now simply unknown; the new one, once expired, says whom to ask (410).
    person = context.new_page()
    assert person.goto(old).status == 404
    Decision.objects.filter(pk=refused.decision.pk).update(
        access_expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = person.goto(live_server.url + new[new.index("/access/") :])
    assert response.status == 410
    assert "This link has expired" in person.inner_text("main")
    check_page(person, "link-expired")


def test_the_erasure_form_and_its_result(refused, live_server, auditor, context):
    page = sign_in(context, live_server, "audrey", "/audit/erasure/")
    check_page(page, "erasure-form")
    page.get_by_label("The person's reference").fill(refused.decision.subject_ref)
    page.get_by_label("Ground of the request").fill("Art. 17(1)(b): consent withdrawn")
    page.get_by_role("button", name="Erase or restrict").click()
    result = page.locator("#erasure-result")
    assert result.locator("tbody tr").count() == 1
    assert "restricted until" in result.inner_text()
    check_page(page, "erasure-result")


def test_the_correction_form_fits_a_phone(refused, live_server, context):
    page = context.new_page()
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(f"{live_server.url}/access/{refused.access_token}/")
    page.goto(page.url + "correct/")
    assert page.evaluate(SIDEWAYS) == 0, page.evaluate(WIDE)
