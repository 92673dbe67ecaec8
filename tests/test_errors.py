"""Errors Django answers itself (no URL matched, a crash): JSON under /api/, the site's pages elsewhere."""

from django.test import RequestFactory
from django.utils import translation

from config.errors import server_error


def test_an_unknown_api_path_is_a_json_404_naming_it(client):
    response = client.get("/api/v1/decisionz/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "no such endpoint: /api/v1/decisionz/"}


def test_an_unknown_page_is_the_sites_404_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "<h1>Page not found</h1>" in page and 'class="site-header"' in page


def test_the_404_page_speaks_german(client):
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 404
    with translation.override("de"):
        assert f"<h1>{translation.gettext('Page not found')}</h1>" in response.content.decode()
    assert "Page not found" not in response.content.decode()


def test_a_crash_under_the_api_is_json_and_elsewhere_a_page():
    api = server_error(RequestFactory().post("/api/v1/decisions/"))
    assert api.status_code == 500 and api["Content-Type"] == "application/json"
    with translation.override("en"):  # an earlier test's German request leaves German active
        page = server_error(RequestFactory().get("/cases/"))
    assert page.status_code == 500 and b"Something went wrong on our side" in page.content
