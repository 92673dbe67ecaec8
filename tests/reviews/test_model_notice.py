"""The public model notice at /models/<name>/: readable by anyone, never personal."""

import re

import pytest
from django.core.cache import cache

from audit.services import Actor
from decisions.lifecycle import model_version_promote, model_version_set_status
from decisions.recording import DecisionInput
from decisions.registration import model_version_checked
from decisions.registry import schema_of
from explanations.drain import explanation_drain
from explanations.recording import decision_record_many
from explanations.selectors import global_importance
from reviews.notice_views import MIN_EXPLAINED_DECISIONS
from tests.conftest import client_for, register

pytestmark = pytest.mark.django_db
URL = "/models/credit-risk/"


@pytest.fixture(autouse=True)
def fresh_cache():
    # The notice caches its overall figures per version; each test starts without them.
    cache.clear()
    yield
    cache.clear()


def record(credit_version, rows, *, first: int = 0):
    items = [
        DecisionInput(model="credit-risk", features=r, subject_ref=f"notice-subject-{first + i}")
        for i, r in enumerate(rows)
    ]
    recorded = decision_record_many(items=items, actor=Actor.system("tests"))
    explanation_drain(model_version_id=credit_version.pk)
    return recorded


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def importance_labels(page: str) -> list[str]:
    return re.findall(r'<span class="importance-label">([^<]*)</span>', page)


def test_anyone_can_read_what_the_system_decides_and_on_what(client, credit_version):
    response = client.get(URL)
    assert response.status_code == 200
    page = text_of(response)
    assert "How “credit-risk” decides" in page and "Demo Bank AG" in page
    assert credit_version.purpose in page and credit_version.consequences in page
    assert credit_version.contact in page and "Article 22(3) GDPR" in page
    schema = schema_of(credit_version)
    inputs = page.split("Recorded for fairness monitoring, not used to decide")
    assert len(inputs) == 2
    # The model's inputs come before the heading, the monitored attributes after it, by label.
    for feature in schema.inputs:
        assert f"<strong>{feature.label}</strong>" in inputs[0]
    for feature in schema.monitored:
        assert (
            f'<strong>{feature.label}</strong> <span class="badge">protected characteristic</span>'
            in inputs[1]
        )
        assert f"<strong>{feature.label}</strong>" not in inputs[0]
    assert "At or above 50% the outcome is “approved”, below it “refused”." in page
    assert "These reasons were computed exactly from the model" in page
    # Public, and the same for staff: no sign-in asked, nothing personal to hide.
    assert "/accounts/login/" not in page


def test_a_signed_in_caseworker_reads_the_same_public_page(credit_version, caseworker):
    response = client_for(caseworker).get(URL)
    assert response.status_code == 200
    assert "How “credit-risk” decides" in text_of(response)


def test_no_decision_of_anyone_appears(client, credit_version, credit_trained):
    recorded = record(credit_version, credit_trained.sample_rows[:MIN_EXPLAINED_DECISIONS])
    page = text_of(client.get(URL))
    assert importance_labels(page)  # the aggregate is shown, and still nothing of one person
    schema = schema_of(credit_version)
    for r in recorded:
        decision = r.decision
        assert decision.subject_ref not in page and str(decision.pk) not in page
        assert r.access_token not in page
        assert f"{decision.features['credit_amount']:g}" not in page
        for feature in schema.features:
            if feature.type == "categorical":
                # As it would be shown: the whole text of an element.
                assert f">{feature.category_label(decision.features[feature.name])}<" not in page


def test_overall_importance_waits_for_enough_explained_decisions(client, credit_version, credit_trained):
    rows = credit_trained.sample_rows
    record(credit_version, rows[: MIN_EXPLAINED_DECISIONS - 1])
    page = text_of(client.get(URL))
    assert importance_labels(page) == []
    assert "shown once at least 20 decisions have been explained" in page

    record(credit_version, rows[MIN_EXPLAINED_DECISIONS - 1 : MIN_EXPLAINED_DECISIONS], first=100)
    cache.clear()  # the figures are cached for a few minutes
    page = text_of(client.get(URL))
    figures = global_importance(credit_version.pk)
    assert figures["explained_decisions"] == MIN_EXPLAINED_DECISIONS
    expected = [f["label"] for f in figures["features"]]
    assert importance_labels(page) == expected
    # By the inputs' plain labels, never their column names, and never a monitored attribute.
    assert "checking_account" not in page and "Sex and marital status" not in expected
    assert "on average over 20 explained decisions" in page
    assert "shown once at least" not in page


def test_the_notice_speaks_german(client, credit_version):
    page = text_of(client.get(URL, HTTP_ACCEPT_LANGUAGE="de"))
    assert '<html lang="de">' in page
    assert "Wie „credit-risk“ entscheidet" in page
    assert "Welche Angaben es verwendet" in page and "Wie Sie eine Person verlangen" in page
    assert "Versionsverlauf" in page and "Ab 50 % lautet das Ergebnis „approved“" in page


@pytest.mark.parametrize("url", ["/models/no-such-model/", "/models/digit-reader/"])
def test_an_unknown_model_or_one_without_a_deciding_version_is_404(
    client, credit_trained, digits_trained, url
):
    register(digits_trained, checked=False)  # a candidate only: nothing decides yet
    response = client.get(url)
    assert response.status_code == 404
    page = text_of(response)
    assert "There is no public notice at this address" in page
    assert '<link rel="stylesheet" href="/static/css/notice.css">' in page


def test_the_history_lists_versions_that_decided_never_rejected_or_candidates(client, credit_trained):
    first = register(credit_trained, version="1.0")
    second = register(credit_trained, version="2.0")
    model_version_promote(version=second, actor=Actor.system("tests"))
    model_version_set_status(version=first, status="retired", actor=Actor.system("tests"))
    rejected = register(credit_trained, version="2.1", checked=False)
    model_version_checked(
        version=rejected,
        reasons=["additivity: contributions do not add up"],
        report={},
        actor=Actor.system("tests"),
    )
    register(credit_trained, version="3.0-rc", checked=False)

    page = text_of(client.get(URL))
    rows = re.findall(r'<tr><th scope="row">([^<]*)</th><td data-label="Status">([^<]*)</td>', page)
    assert rows == [("2.0", "in use"), ("1.0", "retired")]
    assert "Version in use</dt><dd>2.0" in page
    assert "2.1" not in page and "3.0-rc" not in page
