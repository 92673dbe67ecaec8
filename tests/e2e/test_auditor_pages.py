"""An auditor signs in with a real browser and reads the overview, fairness and verify pages."""

from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

pytestmark = pytest.mark.e2e


def test_auditor_pages_in_a_browser(live_server, browser, transactional_db, credit_trained, auditor):

    from audit.chain import checkpoint_sign
    from decisions.recording import DecisionInput
    from explanations.drain import explanation_drain
    from explanations.recording import decision_record_many
    from tests.conftest import register

    version = register(credit_trained)
    from audit.services import Actor

    decision_record_many(
        items=[
            DecisionInput(model="credit-risk", features=row, subject_ref=f"e2e-{i}")
            for i, row in enumerate(credit_trained.sample_rows[:40])
        ],
        actor=Actor.system("e2e"),
    )
    explanation_drain(model_version_id=version.pk)
    checkpoint_sign()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/accounts/login/?next=/audit/")
    page.fill("#id_username", auditor.username)
    page.fill("#id_password", "pw-" + auditor.username)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/audit/")

    page.click(f"a[href='/audit/versions/{version.pk}/']")
    assert page.inner_text("#n-decisions") == "40"
    assert page.inner_text("#coverage").startswith("40 / 40")
    page.screenshot(path=str(SCREENSHOTS / "auditor-overview.png"), full_page=True)

    page.goto(f"{live_server.url}/audit/versions/{version.pk}/fairness/")
    assert page.locator("table.fairness").count() == 3
    page.screenshot(path=str(SCREENSHOTS / "auditor-fairness.png"), full_page=True)

    page.goto(f"{live_server.url}/audit/verify/")
    assert page.inner_text("#chain-state").startswith("Intact")
    page.screenshot(path=str(SCREENSHOTS / "auditor-verify.png"), full_page=True)
