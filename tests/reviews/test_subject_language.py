"""The person's pages in their language: the German subject page and model notice of the credit
demo show the schema's labels, category labels and the controller's texts in German."""

import html
import re

import pytest
from django.core.cache import cache

from audit.services import Actor
from decisions.recording import DecisionInput
from demo.credit_schema import SCHEMA, SUBJECT_TEXTS
from demo.credit_schema_de import FEATURES_DE, TEXTS_DE
from explanations.drain import explanation_drain
from explanations.recording import decision_record_many

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def visible_text(response) -> str:
    """What a person reads: the text between the tags (the chart's SVG text included)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def english_only() -> set[str]:
    """Every English label, category label and unit of the credit schema that differs from its
    German translation (a word the same in both, such as "DM", says nothing)."""
    out = set()
    for feature in SCHEMA["features"]:
        german = FEATURES_DE[feature["name"]]
        out.add(feature["label"])
        if feature.get("unit"):
            out.add(feature["unit"])
        out.update(c["label"] for c in feature.get("categories", []))
        out.difference_update({german["label"], german.get("unit"), *german.get("categories", {}).values()})
    return out


def shown(text: str, page: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(text)}(?![\w-])", page) is not None


@pytest.fixture
def refused_decision(credit_version, credit_trained):
    """A refused applicant, explained, so reasons, chart and counterfactuals are all on the page."""
    items = [
        DecisionInput(model="credit-risk", features=row, subject_ref=f"p-{i}")
        for i, row in enumerate(credit_trained.sample_rows)
    ]
    recorded = decision_record_many(items=items, actor=Actor.system("tests"))
    explanation_drain(model_version_id=credit_version.pk)
    return next(r for r in recorded if r.decision.outcome == "refused")


def test_the_german_subject_page_has_no_english_label_of_the_credit_demo(client, refused_decision):
    url = f"/access/{refused_decision.access_token}/"
    german = visible_text(client.get(url, HTTP_ACCEPT_LANGUAGE="de", follow=True))
    english = visible_text(client.get(url, HTTP_ACCEPT_LANGUAGE="en", follow=True))
    leftovers = sorted(t for t in english_only() if shown(t, german))
    assert leftovers == []
    # The same page in English does show them, so the comparison above can fail.
    assert shown("Loan duration", english) and not shown("Laufzeit des Kredits", english)
    assert shown("Laufzeit des Kredits", german) and shown("Wohnsituation", german)
    assert TEXTS_DE["purpose"] in german and SUBJECT_TEXTS["purpose"] not in german


def test_the_german_model_notice_reads_the_schema_and_texts_in_german(client, credit_version):
    german = visible_text(client.get("/models/credit-risk/", HTTP_ACCEPT_LANGUAGE="de"))
    assert shown("Kontostand Ihres Girokontos", german) and not shown(
        "Balance of your current account", german
    )
    assert TEXTS_DE["legal_basis"] in german and SUBJECT_TEXTS["legal_basis"] not in german
