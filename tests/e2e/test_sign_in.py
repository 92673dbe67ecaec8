"""Both staff sign-ins in Chromium: "Sign in with ..." through the provider's login page back to
the caseworker queue, and a local password followed by setting up an authenticator app (QR code and
key shown, no inline script or style) and, at the next sign-in, its code. At a desktop's and a
phone's width, with no sideways scrolling and no Content-Security-Policy violation. Screenshots go
to var/screenshots/.
"""

from __future__ import annotations

from base64 import b32decode
from pathlib import Path

import pytest
from django_otp.oath import totp

from tests.sso.fixtures import provider  # noqa: F401 - the OpenID Connect provider process

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
WIDTHS = {"desktop": 1366, "phone": 390}


def new_page(browser, width: int):
    page = browser.new_context(locale="en-GB", viewport={"width": width, "height": 900}).new_page()
    page.violations = []
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and page.violations.append(message.text),
    )
    return page


def assert_fits(page, where: str) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], (where, "scrolls sideways", widths)
    assert page.violations == [], where


def test_single_sign_on_through_the_providers_login_page_to_the_queue(
    transactional_db,
    live_server,
    provider,  # noqa: F811
    browser,
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for size, width in WIDTHS.items():
        page = new_page(browser, width)
        page.goto(f"{live_server.url}/cases/")
        page.wait_for_url(f"{live_server.url}/accounts/login/?next=/cases/")
        page.screenshot(path=str(SCREENSHOTS / f"sign-in-choice-{size}.png"), full_page=True)
        assert_fits(page, size)
        page.get_by_role("link", name="Sign in with Example IdP").click()
        page.wait_for_url(f"{provider.url}/accounts/login/**")
        page.get_by_label("Provider username").fill("carol")
        page.get_by_label("Provider password").fill("pw-carol")
        page.get_by_role("button", name="Log in at the provider").click()
        page.wait_for_url(f"{live_server.url}/cases/")
        assert page.locator("h1").inner_text() == "Review queue"
        assert "Sign out (carol)" in page.locator("header").inner_text()
        page.screenshot(path=str(SCREENSHOTS / f"sign-in-sso-queue-{size}.png"))
        assert_fits(page, size)
        page.context.close()


def test_local_sign_in_sets_up_the_authenticator_then_asks_for_its_code(
    transactional_db, live_server, auditor, browser, settings
):
    settings.OTP_REQUIRED_ROLES = ["auditor"]
    # A right code straight after a wrong one must be tried (throttling: tests/sso).
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def password(page):
        page.goto(f"{live_server.url}/audit/")
        page.get_by_label("Username").fill("audrey")
        page.get_by_label("Password").fill("pw-audrey")
        page.get_by_role("button", name="Sign in", exact=True).click()

    page = new_page(browser, WIDTHS["phone"])
    password(page)
    page.wait_for_url(f"{live_server.url}/accounts/second-factor/enrol/?next=%2Faudit%2F")
    assert page.locator("h1").inner_text() == "Set up your second factor"
    assert page.locator("figure.qr svg").bounding_box()["width"] > 100
    page.screenshot(path=str(SCREENSHOTS / "sign-in-enrol-phone.png"), full_page=True)
    assert_fits(page, "enrol")
    key = b32decode(page.locator("#totp-secret").inner_text().replace(" ", ""))

    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Confirm").click()
    assert "That code is not right" in page.locator(".error-message").inner_text()
    page.get_by_label("Code").fill(f"{totp(key):06d}")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{live_server.url}/audit/")
    page.context.close()

    # The next sign-in asks for the code; the one just used is spent, the next step's is taken.
    page = new_page(browser, WIDTHS["desktop"])
    password(page)
    page.wait_for_url(f"{live_server.url}/accounts/second-factor/?next=%2Faudit%2F")
    page.screenshot(path=str(SCREENSHOTS / "sign-in-code-desktop.png"))
    assert_fits(page, "code")
    page.get_by_label("Code").fill(f"{totp(key, drift=1):06d}")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{live_server.url}/audit/")
    page.context.close()
