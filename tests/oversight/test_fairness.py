"""Fairness figures against a hand computation on ten decisions of the tests' own lending model,
whose three protected attributes are recorded for monitoring, not taken as inputs."""

import pytest
from django.utils import timezone

from oversight.fairness import attribution_share, fairness_by_group
from tests.conftest import client_for
from tests.oversight.conftest import make_explanation
from tests.oversight.lending import MULTICLASS, decide, lending_version, review_decides

pytestmark = pytest.mark.django_db

# (sex/personal status, age, foreign worker, favourable)
ROWS = [
    ("male_single", 22, "yes", True),
    ("male_single", 24, "yes", True),
    ("male_single", 30, "no", True),
    ("male_single", 45, "yes", False),
    ("female_not_single", 23, "yes", True),
    ("female_not_single", 33, "yes", False),
    ("female_not_single", 50, "no", True),
    ("female_not_single", 61, "yes", False),
    ("male_married", 36, "no", True),
    ("male_married", 52, "yes", True),
]


@pytest.fixture
def version(db):
    return lending_version()


@pytest.fixture
def ledger(db):
    version = lending_version(monitored=False)
    decisions = [
        decide(
            version,
            {
                "income": 2500,
                "term_months": 24,
                "personal_status_sex": sex,
                "age_years": age,
                "foreign_worker": foreign,
            },
            favourable=fav,
        )
        for sex, age, foreign, fav in ROWS
    ]
    erased = decide(version, {}, favourable=False)
    erased.personal_data_erased_at = timezone.now()
    erased.save()
    # This model takes the protected attributes as inputs, so its explanations attribute to them.
    make_explanation(
        decisions[0],
        {
            "personal_status_sex": 0.1,
            "age_years": -0.2,
            "foreign_worker": 0.05,
            "income": 0.4,
            "term_months": -0.25,
        },
    )
    make_explanation(
        decisions[1],
        {
            "personal_status_sex": -0.05,
            "age_years": 0.1,
            "foreign_worker": 0.0,
            "income": -0.3,
            "term_months": 0.2,
        },
    )
    return version


def by_feature(version):
    return {a.feature: a for a in fairness_by_group(version)}


def rates(attribute):
    return {g.value: (g.n, g.favourable, g.rate, g.impact_ratio) for g in attribute.groups}


def test_a_group_at_exactly_four_fifths_is_not_flagged_and_one_just_below_is(version):
    """The four-fifths rule flags a ratio *below* 0.8: 4 of 5 favourable against 5 of 5 is exactly
    0.8 and passes; 15 of 19 (0.789...) against the same is flagged."""
    for sex, favourable in (
        [("male_single", True)] * 5 + [("male_married", True)] * 4 + [("male_married", False)]
    ):
        decide(version, {"personal_status_sex": sex}, favourable=favourable)
    sex = by_feature(version)["personal_status_sex"]
    married = next(g for g in sex.groups if g.value == "male_married")
    assert married.impact_ratio == 0.8
    assert not married.below_four_fifths and not sex.flagged
    for favourable in [True] * 11 + [False] * 3:
        decide(version, {"personal_status_sex": "male_married"}, favourable=favourable)
    sex = by_feature(version)["personal_status_sex"]
    married = next(g for g in sex.groups if g.value == "male_married")
    assert (married.n, married.favourable) == (19, 15)
    assert married.impact_ratio == pytest.approx(15 / 19) and married.impact_ratio < 0.8
    assert married.below_four_fifths and sex.flagged


def test_rates_and_impact_ratios_by_sex_and_status(ledger):
    sex = by_feature(ledger)["personal_status_sex"]
    assert rates(sex) == {
        "male_divorced": (0, 0, None, None),
        "female_not_single": (4, 2, 0.5, 0.5),
        "male_single": (4, 3, 0.75, 0.75),
        "male_married": (2, 2, 1.0, 1.0),
    }
    assert sex.most_favoured == "Man, married or widowed"
    assert sex.min_impact_ratio == 0.5 and sex.flagged
    assert [g.value for g in sex.groups if g.below_four_fifths] == ["female_not_single", "male_single"]


def test_age_bands_are_whole_years_with_labels(ledger):
    age = by_feature(ledger)["age_years"]
    assert rates(age) == {
        "under 25": (3, 3, 1.0, 1.0),
        "25-34": (2, 1, 0.5, 0.5),
        "35-49": (2, 1, 0.5, 0.5),
        "50 and over": (3, 2, 2 / 3, 2 / 3),
    }
    assert [g.label for g in age.groups] == ["under 25", "25 to 34", "35 to 49", "50 and over"]


def test_foreign_worker(ledger):
    foreign = by_feature(ledger)["foreign_worker"]
    assert rates(foreign) == {"yes": (7, 4, 4 / 7, 4 / 7), "no": (3, 3, 1.0, 1.0)}
    assert foreign.flagged


def test_a_decision_without_the_attribute_is_shown_apart_never_the_reference(version):
    for favourable in (True, False):
        decide(version, {"foreign_worker": "yes"}, favourable=favourable)
    decide(version, {}, favourable=True)  # recorded without it: favourable rate 100%
    foreign = by_feature(version)["foreign_worker"]
    assert rates(foreign) == {"yes": (2, 1, 0.5, 1.0), "no": (0, 0, None, None), "unknown": (1, 1, 1.0, None)}
    assert foreign.most_favoured == "Yes" and not foreign.flagged
    assert foreign.groups[-1].label == "not recorded"


def test_decisions_people_took_on_review_are_not_the_models(ledger):
    """Two refusals overturned by a person: the model's rates stay as the model decided."""
    refused = [d for d in ledger.decisions.filter(favourable=False, personal_data_erased_at__isnull=True)]
    for decision in refused[:2]:
        review_decides(decision, "approved", favourable=True)
    assert rates(by_feature(ledger)["foreign_worker"]) == {
        "yes": (7, 4, 4 / 7, 4 / 7),
        "no": (3, 3, 1.0, 1.0),
    }


def test_share_of_attribution_on_protected_features(ledger):
    share = attribution_share(ledger)
    assert share.explained_decisions == 2
    assert share.total_abs == pytest.approx(1.65)
    assert share.protected_share == pytest.approx(0.5 / 1.65)
    assert share.by_feature == pytest.approx(
        {"age_years": 0.3 / 1.65, "foreign_worker": 0.05 / 1.65, "personal_status_sex": 0.15 / 1.65}
    )


def test_the_page_reports_all_three_monitored_attributes(version, auditor):
    """The model takes none of them as inputs, so its explanations attribute nothing to them; the
    page still gives each its rates, chart and table, and says they carry no attribution."""
    for sex, age, foreign, fav in ROWS:
        d = decide(
            version,
            {
                "income": 2000,
                "term_months": 12,
                "personal_status_sex": sex,
                "age_years": age,
                "foreign_worker": foreign,
            },
            favourable=fav,
        )
        make_explanation(d, {"income": 0.3, "term_months": -0.1})
    response = client_for(auditor).get(f"/audit/versions/{version.pk}/fairness/")
    text = response.content.decode()
    assert [a.label for a, _chart in response.context["attributes"]] == [
        "Sex and marital status",
        "Age",
        "Foreign worker",
    ]
    assert text.count('<table class="fairness"') == 3
    for feature in ("personal_status_sex", "age_years", "foreign_worker"):
        assert f'id="fairness-{feature}"' in text  # its chart
    rows = {r["label"]: r["share"] for r in response.context["report"]["attribution_rows"]}
    assert rows == {"Sex and marital status": None, "Age": None, "Foreign worker": None}
    assert text.count("none: monitored, not a model input") == 3
    assert text.count("Monitored only: recorded with each decision for this view") == 3
    assert "0.0% of the total absolute SHAP attribution over 10 explained decisions" in text


def test_fairness_page_and_api_show_the_same_figures(ledger, auditor):
    client = client_for(auditor)
    page = client.get(f"/audit/versions/{ledger.pk}/fairness/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "below four-fifths" in text and "57.1% (4 of 7)" in text and "30.3%" in text
    body = client.get("/api/v1/audit/statistics/lending/1.0/").json()
    foreign = next(a for a in body["fairness"]["attributes"] if a["feature"] == "foreign_worker")
    assert [(g["value"], g["n"], g["favourable"]) for g in foreign["groups"]] == [("yes", 7, 4), ("no", 3, 3)]
    assert body["fairness"]["protected_attribution_share"] == pytest.approx(0.5 / 1.65)
    assert body["outcomes"]["decisions"] == 11


def test_a_model_with_no_favourable_class_says_so_instead_of_zero_rates(auditor):
    reader = lending_version("form-reader", output=MULTICLASS)
    for digit in "1172":
        decide(reader, {"foreign_worker": "yes"}, outcome=digit, favourable=None)
    client = client_for(auditor)
    fairness = client.get(f"/audit/versions/{reader.pk}/fairness/").content.decode()
    assert "names no favourable outcome" in fairness and '<table class="fairness"' not in fairness
    overview = client.get(f"/audit/versions/{reader.pk}/")
    text = overview.content.decode()
    assert overview.context["stats"]["outcomes"]["favourable"] is None
    assert "none: this model names no favourable outcome" in text and "0 (0.0%)" not in text
