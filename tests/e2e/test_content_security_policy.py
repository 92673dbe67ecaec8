"""Every kind of page works under the Content-Security-Policy: Chromium reports no violation."""

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.e2e


def test_no_page_breaks_the_content_security_policy(live_server, browser, transactional_db, credit_trained):
    from audit.services import Actor
    from decisions.accounts import user_create
    from decisions.recording import DecisionInput
    from explanations.drain import explanation_drain
    from explanations.recording import decision_record_many
    from reviews.services.requests import review_request_create
    from tests.conftest import register

    version = register(credit_trained)
    recorded = decision_record_many(
        items=[
            DecisionInput(model="credit-risk", features=row, subject_ref=f"csp-{i}")
            for i, row in enumerate(credit_trained.sample_rows[:12])
        ],
        actor=Actor.system("e2e"),
    )
    explanation_drain(model_version_id=version.pk)
    refused = next(r for r in recorded if not r.decision.favourable)
    case = review_request_create(
        decision=refused.decision, kind="contest", grounds="reasoning", statement="My income is higher."
    )
    for name, role in (("casey", "caseworker"), ("audrey", "auditor")):
        user_create(username=name, role=role, password="a-long-password", actor=Actor.system("e2e"))
    get_user_model().objects.create_superuser("root", "root@example.org", "a-long-password")

    pages = {
        None: ["/accounts/login/", f"/access/{refused.access_token}/", "/api/docs/"],
        "casey": ["/cases/", f"/cases/{case.reference}/"],
        "audrey": [
            "/audit/",
            f"/audit/versions/{version.pk}/",
            f"/audit/versions/{version.pk}/fairness/",
            f"/audit/versions/{version.pk}/drift/",
            "/audit/events/",
            "/audit/verify/",
            "/audit/exports/",
        ],
        "root": [
            "/admin/",
            "/admin/decisions/modelversion/",
            f"/admin/decisions/modelversion/{version.pk}/change/",
            "/admin/decisions/decision/",
            f"/admin/decisions/decision/{refused.decision.pk}/change/",
            "/admin/audit/auditevent/",
        ],
    }
    violations, visited = [], 0
    for username, paths in pages.items():
        context = browser.new_context()
        page = context.new_page()
        page.on(
            "console",
            lambda m, page=page: (
                violations.append(f"{page.url}: {m.text}") if "Content Security Policy" in m.text else None
            ),
        )
        if username:
            page.goto(f"{live_server.url}/accounts/login/")
            page.fill("#id_username", username)
            page.fill("#id_password", "a-long-password")
            page.click("button[type=submit]")
            page.wait_for_load_state()
        for path in paths:
            response = page.goto(live_server.url + path)
            assert response.status == 200, path
            assert "default-src 'self'" in response.headers["content-security-policy"], path
            page.wait_for_load_state("networkidle")
            visited += 1
        context.close()
    assert visited == 18
    assert violations == []
