"""Schemathesis over /api/schema/: every operation, every check, with each credential it lists.

The app runs in-process (WSGI) on the test database. Each operation is fuzzed with the
credentials its `security` names: the integration's API key, a caseworker's and an auditor's
session (with a CSRF token: sessions are refused unsafe methods without one, as browsers
send it), and a subject's access token. Path parameters are drawn, most of the time, from the
real objects made below (schemathesis cannot guess a UUID), so the answers include real bodies:
a decision with its explanation done, a review request, an export.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from rest_framework.test import APIClient
from schemathesis.config import SchemathesisConfig
from schemathesis.pytest.lazy import get_all_tests

from explanations.models import Explanation
from tests.conftest import client_for, register
from tests.services import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

MAX_EXAMPLES = 15
SEED = 21
CSRF = "h5" * 16  # a CSRF secret as Django makes them: 32 letters and digits
CSRF_HEADER = settings.CSRF_HEADER_NAME.removeprefix("HTTP_").replace("_", "-")


def _session_id(user) -> str:
    return client_for(user).cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture
def world(worker, credit_trained, api_key, caseworker, auditor):
    """Real objects for the fuzzer to find, and the four credentials."""
    version = register(credit_trained)
    integration = APIClient()
    integration.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key.raw}")
    recorded = []
    for i, row in enumerate(credit_trained.sample_rows[:4]):
        response = integration.post(
            "/api/v1/decisions/",
            {"model": "credit-risk", "subject_ref": f"subj-{i}", "features": dict(row)},
            format="json",
        )
        assert response.status_code == 201, response.content
        recorded.append(response.json())
    wait_until(
        lambda: Explanation.objects.filter(status=Explanation.Status.DONE).count() == len(recorded),
        timeout=120,
        what="the decisions' explanations",
    )
    # The last decision's subject holds the token; the fuzzer's ids leave it alone, so that a
    # fuzzed revoke does not close the subject's operations.
    subject_token = recorded[-1]["subject_access_url"].rstrip("/").rsplit("/", 1)[1]
    subject = APIClient()
    subject.credentials(HTTP_X_ACCESS_TOKEN=subject_token)
    contest = subject.post(
        "/api/v1/subject/requests/",
        {"kind": "contest", "grounds": "data_wrong", "statement": "My income is wrong."},
        format="json",
    )
    assert contest.status_code == 201, contest.content
    export = client_for(auditor).post("/api/v1/audit/exports/", {"kind": "events"}, format="json")
    assert export.status_code == 202, export.content
    return {
        "ids": [d["id"] for d in recorded[:-1]] + [export.json()["id"]],
        "references": [contest.json()["reference"]],
        "names": [version.model.name],
        "versions": [version.version],
        # One pass of the fuzzer per credential: (its scheme, its secret as the scheme sends it).
        "credentials": [
            ("ApiKeyAuth", f"Api-Key {api_key.raw}"),
            ("cookieAuth", _session_id(caseworker)),
            ("cookieAuth", _session_id(auditor)),
            ("SubjectAccessToken", subject_token),
        ],
    }


def _schema(world, scheme: str, secret: str):
    """The app's schema, fuzzed with one credential. Schemathesis sends it where an operation's
    `security` names its scheme, and leaves it out or spoils it for its authentication checks."""
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            # Hypothesis' health checks judge generation speed on this shared machine, not the API.
            "suppress-health-check": ["all"],
            "auth": {"openapi": {scheme: {"api_key": secret}}},
            # Sessions need a CSRF token for unsafe methods, as a browser sends it: not a
            # credential, so schemathesis' authentication checks leave it in place.
            "headers": {CSRF_HEADER: CSRF},
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            # Stateful runs follow the schema's links, and it has none: the dictionaries below give
            # the operations real objects instead.
            "phases": {"stateful": {"enabled": False}},
            "checks": {
                "enabled": True,
                # A body the schema allows can still break a domain rule (an unknown model name,
                # a case decided already): those refusals are 4xx the schema documents, never a
                # 413 or 415 for a valid body, nor a 5xx.
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", 400, 401, 403, 404, 409, 410, 422, 429]
                },
            },
            "operations": [
                {
                    # A wrong access token is a 404 on purpose (reviews.subject_api: it looks like a
                    # withdrawn decision), where this check expects 401 or 403.
                    "include-path-regex": "^/api/v1/subject/",
                    "checks": {"ignored_auth": {"enabled": False}},
                }
            ],
            "dictionaries": {
                "ids": {"values": world["ids"]},
                "references": {"values": world["references"]},
                "names": {"values": world["names"]},
                "versions": {"values": world["versions"]},
            },
            "parameters": {
                f"path.{name}": {"dictionary": dictionary, "probability": 0.8}
                for name, dictionary in (
                    ("id", "ids"),
                    ("reference", "references"),
                    ("name", "names"),
                    ("version", "versions"),
                )
            },
        }
    )
    return schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=config)


def _call(case):
    """What schemathesis runs per generated case: send it, then every check on the answer."""
    case.call_and_validate(cookies={settings.CSRF_COOKIE_NAME: CSRF})


def test_every_operation_answers_as_its_schema_says(world, subtests):
    # schemathesis.pytest.from_fixture would do this loop, but sets a node attribute that pytest 9
    # no longer has; its own builder of the per-operation Hypothesis tests is used directly.
    fuzzed = set()
    for index, (scheme, secret) in enumerate(world["credentials"]):
        schema = _schema(world, scheme, secret)
        tests = get_all_tests(schema=schema, test_func=_call, settings=None, given_kwargs={})
        for operation, run in (result.ok() for result in tests):
            security = operation.definition.raw.get("security", [{}])
            # An operation open to anyone ({} in its security) is fuzzed once, in the first pass.
            if not any(scheme in entry for entry in security) and not ({} in security and index == 0):
                continue
            with subtests.test(f"{operation.label} with {scheme}"):
                run()
            fuzzed.add(operation.label)
    every = {f"{m.upper()} {p}" for p, ops in schema.raw_schema["paths"].items() for m in ops}
    assert fuzzed == every
