"""Swagger UI renders the API in a real browser with every request outside this server blocked."""

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.e2e


def test_swagger_ui_works_with_no_way_out_to_the_internet(live_server, browser):
    page = browser.new_page()
    ours = urlsplit(live_server.url).netloc
    outside = []

    def only_ours(route):
        if urlsplit(route.request.url).netloc == ours:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_ours)
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock-summary-path[data-path='/api/v1/decisions/bulk/']", timeout=15_000)
    assert outside == []
    # "Authorize" offers the credentials the API takes (decisions/openapi.py), with their headers.
    page.click("button.authorize")
    dialog = page.inner_text(".modal-ux")
    assert "ApiKeyAuth" in dialog and "Authorization" in dialog
    assert "SubjectAccessToken" in dialog and "X-Access-Token" in dialog
