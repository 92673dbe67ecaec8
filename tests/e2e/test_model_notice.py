"""The public model notice in Chromium at a desktop's and a phone's width, in English and German,
with its overall figures shown: nothing scrolls sideways, axe-core finds nothing, and it prints
without the site's header and language switch. Screenshots go to var/e2e/."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from audit.services import Actor
from decisions.recording import DecisionInput
from explanations.drain import explanation_drain
from explanations.recording import decision_record_many
from reviews.notice_views import MIN_EXPLAINED_DECISIONS
from tests.conftest import register
from tests.e2e.test_subject_pages import AXE, ROOT, SCREENSHOTS, SIDEWAYS, axe_violations

pytestmark = pytest.mark.e2e
WIDTHS = (1366, 390)


@pytest.fixture
def notice_url(transactional_db, live_server, credit_trained):
    cache.clear()  # the notice's figures are cached per version
    credit = register(credit_trained)
    decision_record_many(
        items=[
            DecisionInput(model="credit-risk", features=row, subject_ref=f"notice-{i}")
            for i, row in enumerate(credit_trained.sample_rows[:MIN_EXPLAINED_DECISIONS])
        ],
        actor=Actor.system("e2e"),
    )
    explanation_drain(model_version_id=credit.pk)
    yield f"{live_server.url}/models/credit-risk/"
    cache.clear()


@pytest.fixture
def checker(browser):
    """A context that may inject axe-core (the site's Content-Security-Policy refuses inline scripts)."""
    if not AXE.exists():
        pytest.skip(f"axe-core is missing at {AXE.relative_to(ROOT)}: run `npm ci` at the repository root")
    context = browser.new_context(locale="en-GB", bypass_csp=True)
    yield context
    context.close()


def check_notice(page, name: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    assert page.evaluate(SIDEWAYS) == 0, f"{name} scrolls sideways at {width} px"
    assert axe_violations(page) == [], f"{name} at {width} px"
    page.screenshot(path=str(SCREENSHOTS / f"notice-{name}-{width}.png"), full_page=True)


def test_the_public_notice_fits_every_screen_and_prints(notice_url, checker):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = checker.new_page()
    page.goto(notice_url)
    assert page.locator("h1").inner_text() == "How “credit-risk” decides"
    assert page.locator("ol.importance li").count() > 0
    for width in WIDTHS:
        check_notice(page, "credit", width)

    # On paper: the content only, without the header, the footer or the language switch.
    page.emulate_media(media="print")
    assert page.locator(".site-header").is_hidden() and page.locator("form.language").is_hidden()
    assert page.locator("ol.importance").is_visible()
    page.emulate_media(media="screen")

    german = checker.browser.new_context(locale="de-DE", bypass_csp=True).new_page()
    german.goto(notice_url)
    assert german.locator("h1").inner_text() == "Wie „credit-risk“ entscheidet"
    for width in WIDTHS:
        check_notice(german, "credit-de", width)
    german.context.close()
