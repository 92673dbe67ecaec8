"""A regression decision as the person and the caseworker read it: the score against its cut-off
in the score's units, reasons that say by how much each detail raised or lowered it, what would
cross the cut-off, and how the explanation was produced, in English and German."""

import html
import re
from datetime import timedelta

import numpy as np
import pytest
import xgboost as xgb
from django.core.cache import cache
from django.utils import timezone, translation
from sklearn.datasets import load_diabetes

from decisions.commitments import features_commitment, features_key
from decisions.models import Decision, DecisionModel, ModelVersion
from decisions.predictors import decide, dump_background, sha256
from decisions.schema import FeatureSchema
from decisions.subject_access import access_grant
from explanations.contributions import contributions_compact
from explanations.counterfactuals import find_counterfactuals
from explanations.engine import make_explainer
from explanations.models import Explanation
from explanations.reasons import score_number
from reviews.services import requests
from tests.conftest import client_for
from tests.explanations.test_counterfactuals_regression import BELOW_IS_FAVOURABLE, DIABETES_SCHEMA

pytestmark = pytest.mark.django_db
OUTPUT = {**BELOW_IS_FAVOURABLE, "score_unit": "points"}
TEXTS = {
    "controller": "Example Insurance AG",
    "purpose": "Setting the premium of a health insurance policy.",
    "significance": "Decides whether a surcharge applies.",
    "consequences": "A surcharge raises the premium.",
    "legal_basis": "Art. 22(2)(a) GDPR: necessary for the contract.",
    "contact": "privacy@example-insurance.test",
}


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="module")
def trained():
    data = load_diabetes(scaled=False)
    booster = xgb.train(
        {"objective": "reg:squarederror", "max_depth": 3, "eta": 0.1, "seed": 0},
        xgb.DMatrix(data.data, label=data.target),
        num_boost_round=120,
    )
    return booster, data.data


def version_of(*, framework: str, explainer: str, artifact: bytes, background: np.ndarray) -> ModelVersion:
    model, _ = DecisionModel.objects.get_or_create(name="health-premium")
    blob = dump_background(background)
    return ModelVersion.objects.create(
        model=model,
        version=f"{framework}-1",
        framework=framework,
        explainer=explainer,
        status=ModelVersion.Status.ACTIVE,
        artifact=artifact,
        artifact_sha256=sha256(artifact),
        feature_schema=DIABETES_SCHEMA,
        output=OUTPUT,
        background=blob,
        background_sha256=sha256(blob),
        **TEXTS,
    )


def decision_of(version: ModelVersion, features: dict, score: float) -> tuple[Decision, str]:
    """The Decision row as recording writes it (outcome by `decide`), and its subject link."""
    now = timezone.now()
    grant = access_grant(now=now)
    result = decide(version.output, np.array([[score]]))[0]
    decision = Decision.objects.create(
        model_version=version,
        subject_ref="person-1",
        features=features,
        features_key=(key := features_key()),
        features_commitment=features_commitment(key=key, features=features),
        score=result.score,
        outcome=result.outcome,
        favourable=result.favourable,
        decided_at=now,
        access_token_hash=grant.token_hash,
        access_expires_at=grant.expires_at,
    )
    return decision, f"/access/{grant.token}/"


def explanation_of(decision: Decision, **fields) -> Explanation:
    return Explanation.objects.create(
        decision=decision,
        model_version=decision.model_version,
        status=Explanation.Status.DONE,
        queued_at=timezone.now() - timedelta(seconds=1),
        finished_at=timezone.now(),
        **fields,
    )


@pytest.fixture
def tree_decision(trained):
    """A person scored 206 against a cut-off of 150 (a surcharge), explained by TreeSHAP of the
    real booster, with the counterfactuals the search found on it."""
    booster, X = trained
    schema = FeatureSchema.from_dict(DIABETES_SCHEMA)
    features, errors = schema.validate(dict(zip(schema.names, map(float, X[0]), strict=True)))
    assert errors == {}
    version = version_of(
        framework="xgboost", explainer="tree", artifact=bytes(booster.save_raw("ubj")), background=X[:50]
    )
    result = make_explainer("tree", model=booster, background=None).explain(schema.encode([features]))
    decision, link = decision_of(version, features, float(result.predictions[0]))

    def predict(rows):
        return booster.predict(xgb.DMatrix(rows)).astype(np.float64)[:, None]

    explanation_of(
        decision,
        method="tree",
        output_space=result.output_space,
        explained_class=OUTPUT["class_labels"][1],
        base_value=float(result.base_values[0]),
        predicted_value=float(result.predictions[0]),
        contributions=contributions_compact(schema, result.values[0]),
        raw_values=result.values[0].tolist(),
        additivity_error=float(result.additivity_error[0]),
        counterfactuals=find_counterfactuals(
            schema=schema, predict_proba=predict, output=OUTPUT, features=features
        ),
    )
    # What the booster itself says each detail added to this person's score.
    contribs = booster.predict(xgb.DMatrix(schema.encode([features])), pred_contribs=True)[0]
    return (
        decision,
        link,
        dict(zip(schema.names, contribs[:-1].astype(float), strict=True)),
        float(contribs[-1]),
    )


def page_text(response) -> str:
    assert response.status_code == 200
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def test_the_subject_page_shows_the_score_against_the_cut_off_in_points(client, tree_decision):
    decision, link, by_feature, base = tree_decision
    score = round(decision.score)
    assert decision.outcome == "surcharge" and decision.score >= 150 and score == 206
    page = page_text(client.get(link, follow=True))
    assert (
        f"Your score: {score} points. The cut-off is 150 points: at or above it the outcome is “surcharge”, "
        "below it “standard premium”." in page
    )
    assert "What the score measures: Expected progression index after one year" in page
    assert "probability" not in page and "%)" not in page
    # The largest reason is the detail that raised the score most, by the booster's own figure.
    schema = FeatureSchema.from_dict(DIABETES_SCHEMA)
    top = max(by_feature, key=by_feature.get)
    first = re.search(r'<ol class="reasons"><li>(.*?)</li>', page).group(1)
    value = schema[top].display_value(decision.features[top])
    assert (
        first == f"{schema[top].label}: {value}. This raised your score by {round(by_feature[top])} points."
    )
    # The chart speaks in points: where the model starts, the person's score and the cut-off.
    chart = re.search(r'<svg [^>]*class="waterfall".*?</svg>', page).group(0)
    assert f"average case ({round(base)} points)" in chart and f"you ({score} points)" in chart
    assert "raised the score →" in chart and ">cut-off<" in chart
    assert "moved the estimate" not in page and "The dashed line is the cut-off of 150 points." in page
    assert f"raised the score by {round(by_feature[top])} points" in page  # the chart's table
    # How it was produced, in one sentence.
    assert "How this explanation was produced" in page
    assert "These reasons were computed exactly from the model's decision trees" in page
    # What would cross the cut-off, each with the score it would give.
    items = re.findall(r"<li>([^<]*)<span class=\"result\">(.*?)</span></li>", page)
    assert len(items) == 3
    for _changes, result in items:
        # Never rounded onto the cut-off: 149.99 reads "149.99", not "150".
        shown = float(re.search(r"score ([\d.]+) points", result).group(1))
        assert "outcome “standard premium”" in result and shown < 150


def test_the_subject_page_in_german(client, tree_decision):
    decision, link, by_feature, _ = tree_decision
    page = page_text(client.get(link, HTTP_ACCEPT_LANGUAGE="de", follow=True))
    assert '<html lang="de">' in page
    assert (
        "Ihr Score: 206 points. Der Schwellenwert ist 150 points: ab diesem Wert lautet das Ergebnis "
        "„surcharge“, darunter „standard premium“." in page
    )
    assert "Was der Score misst: Expected progression index after one year" in page
    top = max(by_feature, key=by_feature.get)
    assert f"Dies hat Ihren Score um {round(by_feature[top])} points erhöht." in page
    assert "Wie diese Erklärung entstanden ist" in page
    assert "Diese Gründe wurden exakt aus den Entscheidungsbäumen des Modells berechnet" in page
    assert "erhöhte den Score →" in page and ">Schwellenwert<" in page


@pytest.fixture
def supplied_decision(trained):
    """A score from the controller's own system (framework "external"), with the per-feature
    contributions it supplied: base 152 plus its contributions make the score."""
    _, X = trained
    schema = FeatureSchema.from_dict(DIABETES_SCHEMA)
    features, _ = schema.validate(dict(zip(schema.names, map(float, X[1]), strict=True)))
    version = version_of(framework="external", explainer="supplied", artifact=b"", background=X[:5])
    supplied = {name: 0.0 for name in schema.names} | {"bmi": -31.4, "s5": -18.25, "bp": 4.5}
    score = 152.0 + sum(supplied.values())
    decision, link = decision_of(version, features, score)
    explanation_of(
        decision,
        method="supplied",
        output_space="score",
        base_value=152.0,
        predicted_value=score,
        contributions=supplied,
        additivity_error=0.0,
    )
    return decision, link


def test_supplied_reasons_say_who_computed_them_and_that_nothing_can_be_searched(client, supplied_decision):
    decision, link = supplied_decision
    assert decision.outcome == "standard premium" and decision.favourable is True
    page = page_text(client.get(link, follow=True))
    assert "Your score: 107 points. The cut-off is 150 points" in page  # 152 - 31.4 - 18.25 + 4.5
    assert "Body-mass index: 21.6 kg/m². This lowered your score by 31 points." in page
    assert (
        "These reasons were supplied by Example Insurance AG from its own scoring system; Rationale "
        "checked that they add up to the score but did not compute them." in page
    )
    assert "there is no model here on which to try changes to your details" in page
    assert "<td>Age</td><td>48 years</td><td>no effect on the score</td>" in page  # supplied as 0
    german = page_text(client.get(link, HTTP_ACCEPT_LANGUAGE="de", follow=True))
    assert (
        "Diese Gründe hat Example Insurance AG aus ihrem eigenen Bewertungssystem geliefert; Rationale hat "
        "geprüft, dass sie zusammen den Score ergeben, sie aber nicht selbst berechnet." in german
    )
    assert "Dies hat Ihren Score um 31 points gesenkt." in german


def test_the_caseworker_sees_the_score_the_cut_off_and_the_method(tree_decision, caseworker):
    decision, _link, _by_feature, _base = tree_decision
    case = requests.review_request_create(
        decision=decision,
        kind="contest",
        grounds="data_wrong",
        statement="My blood pressure was measured wrongly.",
    )
    page = page_text(client_for(caseworker).get(f"/cases/{case.reference}/"))
    assert "score 206 points; cut-off 150 points, at or above it “surcharge”" in page
    assert "What the score measures" in page and "Expected progression index after one year" in page
    assert "TreeSHAP (computed exactly)" in page
    assert "raised the score by" in page


def test_scores_are_rounded_at_the_scale_of_their_cut_off():
    """Three significant digits at the cut-off's scale; a small change is never shown as 0."""
    assert score_number(612.4, {"threshold": 650}) == "612"
    assert score_number(0.73456, {"threshold": 0.5}) == "0.735"
    assert score_number(0.4, {"threshold": 650}, change=True) == "0.4"
    assert score_number(0.0, {"threshold": 650}, change=True) == "0"
    assert score_number(649.7, {"threshold": 650}) == "649.7"  # not "650": that is at the cut-off
    assert score_number(149.986572, {"threshold": 150}) == "149.99"
    assert score_number(650.4, {"threshold": 650}) == "650"
    assert score_number(650.5, {"threshold": 650.5}) == "650.5"
    assert score_number(23.4, {"threshold": 650}, change=True) == "23"
    with translation.override("de"):
        assert score_number(0.73456, {"threshold": 0.5}) == "0,735"


def test_the_subject_api_gives_the_score_against_the_cut_off_and_how_it_was_explained(tree_decision):
    from rest_framework.test import APIClient

    decision, link, _, _ = tree_decision
    api = APIClient()
    api.credentials(HTTP_X_ACCESS_TOKEN=link.strip("/").split("/")[-1])
    body = api.get("/api/v1/subject/decision/").json()
    assert body["score"]["threshold"] == "150 points" and body["score"]["above"] == "surcharge"
    assert body["score"]["value"] == "206 points"
    assert body["how_explained"].startswith("These reasons were computed exactly from the model")
