"""Every refused page (403, 404, 500, 429, and a form without its CSRF token) is a page in the site's
layout that says what happened and what to do; the API's refusals stay JSON."""

import re

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.utils import translation

from tests.conftest import client_for

pytestmark = pytest.mark.django_db
LAYOUT = ('class="site-header"', "css/rationale.css", 'class="site-footer"')


def text_of(response_or_html) -> str:
    html = response_or_html if isinstance(response_or_html, str) else response_or_html.content.decode()
    return re.sub(r"\s+", " ", html)


def in_layout(page: str) -> bool:
    return all(part in page for part in LAYOUT)


def test_a_caseworker_opening_a_supervisors_page_is_told_why_and_what_to_do(caseworker):
    response = client_for(caseworker).get("/cases/signals/")
    assert response.status_code == 403
    page = text_of(response)
    assert in_layout(page) and "<h1>You cannot open this page</h1>" in page
    assert "This page is for supervisors: caseworkers with supervisor rights, and auditors." in page
    assert "You are signed in as casey. Your account has the caseworker role." in page
    assert "ask your administrator to give your account the role it needs" in page
    assert '<a href="/cases/">Go to the review queue</a>' in page


def test_an_auditor_opening_a_case_is_sent_to_the_audit_workspace(auditor):
    page = text_of(client_for(auditor).get("/cases/"))
    assert "This page is for caseworkers." in page and "Your account has the auditor role." in page
    assert '<a href="/audit/">Go to the audit workspace</a>' in page
    assert "Go to the review queue" not in page


def test_someone_without_a_role_is_told_so(nobody):
    response = client_for(nobody).get("/cases/")
    assert response.status_code == 403
    assert "Your account has no role yet." in text_of(response)


def test_the_403_page_speaks_german(caseworker):
    response = client_for(caseworker).get("/cases/signals/", HTTP_ACCEPT_LANGUAGE="de")
    with translation.override("de"):
        title = translation.gettext("You cannot open this page")
    assert title != "You cannot open this page" and f"<h1>{title}</h1>" in response.content.decode()


def test_a_refusal_under_the_api_stays_json(auditor):
    response = client_for(auditor).get("/api/v1/reviews/")
    assert response.status_code == 403 and response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "caseworkers only"}


def test_the_404_page_offers_the_way_back_for_the_role(caseworker):
    response = client_for(caseworker).get("/cases/R-NOSUCHCASE/")
    assert response.status_code == 404
    page = text_of(response)
    assert in_layout(page) and "<h1>Page not found</h1>" in page
    assert '<a href="/cases/">Go to the review queue</a>' in page and "Go to the start page" in page


def test_the_500_page_renders_without_a_request_in_the_sites_layout():
    page = text_of(render_to_string("500.html"))
    assert in_layout(page) and "<h1>Something went wrong on our side</h1>" in page
    assert "Sign out" not in page  # no request, so nobody is signed in as far as the page knows
    with translation.override("de"):
        german = text_of(render_to_string("500.html"))
        title = translation.gettext("Something went wrong on our side")
    assert title != "Something went wrong on our side" and f"<h1>{title}</h1>" in german


def test_the_429_page_says_how_long_to_wait():
    page = text_of(render_to_string("429.html", {"minutes": 5}))
    assert in_layout(page) and "<h1>Too many requests</h1>" in page
    assert "Wait 5 minutes, then try again." in page
    assert "Wait a few minutes, then try again." in text_of(render_to_string("429.html"))


def test_a_form_sent_without_its_csrf_token_gets_the_sites_page(caseworker):
    client = Client(enforce_csrf_checks=True)
    client.force_login(caseworker)
    response = client.post("/cases/R-ANY/take/")
    assert response.status_code == 403
    page = text_of(response)
    assert in_layout(page) and "<h1>Your form could not be sent</h1>" in page
    assert "Go back, reload the page, and send the form again." in page
