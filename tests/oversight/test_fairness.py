"""Fairness figures against a hand computation on ten decisions."""

import pytest
from django.utils import timezone

from oversight.fairness import attribution_share, fairness_by_group
from tests.conftest import client_for
from tests.oversight.conftest import make_decision, make_explanation

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
def ledger(credit_version):
    decisions = [
        make_decision(
            credit_version,
            features={"personal_status_sex": sex, "age_years": age, "foreign_worker": foreign},
            favourable=fav,
        )
        for sex, age, foreign, fav in ROWS
    ]
    erased = make_decision(credit_version, features={}, favourable=False)
    erased.personal_data_erased_at = timezone.now()
    erased.save()
    protected = ("personal_status_sex", "age_years", "foreign_worker")
    make_explanation(
        decisions[0],
        {
            "personal_status_sex": 0.1,
            "age_years": -0.2,
            "foreign_worker": 0.05,
            "duration_months": 0.4,
            "credit_amount": -0.25,
        },
        protected=protected,
    )
    make_explanation(
        decisions[1],
        {
            "personal_status_sex": -0.05,
            "age_years": 0.1,
            "foreign_worker": 0.0,
            "duration_months": -0.3,
            "credit_amount": 0.2,
        },
        protected=protected,
    )
    return credit_version


def by_feature(version):
    return {a.feature: a for a in fairness_by_group(version)}


def rates(attribute):
    return {g.value: (g.n, g.favourable, g.rate, g.impact_ratio) for g in attribute.groups}


def test_a_group_at_exactly_four_fifths_is_not_flagged_and_one_just_below_is(credit_version):
    """The four-fifths rule flags a ratio *below* 0.8: 4 of 5 favourable against 5 of 5 is exactly
    0.8 and passes; 15 of 19 (0.789...) against the same is flagged."""
    for sex, favourable in (
        [("male_single", True)] * 5 + [("male_married", True)] * 4 + [("male_married", False)]
    ):
        make_decision(credit_version, features={"personal_status_sex": sex}, favourable=favourable)
    sex = by_feature(credit_version)["personal_status_sex"]
    married = next(g for g in sex.groups if g.value == "male_married")
    assert married.impact_ratio == 0.8
    assert not married.below_four_fifths and not sex.flagged
    for favourable in [True] * 11 + [False] * 3:
        make_decision(credit_version, features={"personal_status_sex": "male_married"}, favourable=favourable)
    sex = by_feature(credit_version)["personal_status_sex"]
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


def test_age_bands(ledger):
    age = by_feature(ledger)["age_years"]
    assert rates(age) == {
        "under 25": (3, 3, 1.0, 1.0),
        "25-34": (2, 1, 0.5, 0.5),
        "35-49": (2, 1, 0.5, 0.5),
        "50 and over": (3, 2, 2 / 3, 2 / 3),
    }


def test_foreign_worker(ledger):
    foreign = by_feature(ledger)["foreign_worker"]
    assert rates(foreign) == {"yes": (7, 4, 4 / 7, 4 / 7), "no": (3, 3, 1.0, 1.0)}
    assert foreign.flagged


def test_share_of_attribution_on_protected_features(ledger):
    share = attribution_share(ledger)
    assert share.explained_decisions == 2
    assert share.total_abs == pytest.approx(1.65)
    assert share.protected_share == pytest.approx(0.5 / 1.65)
    assert share.by_feature == pytest.approx(
        {"age_years": 0.3 / 1.65, "foreign_worker": 0.05 / 1.65, "personal_status_sex": 0.15 / 1.65}
    )


def test_fairness_page_and_api_show_the_same_figures(ledger, auditor):
    client = client_for(auditor)
    page = client.get(f"/audit/versions/{ledger.pk}/fairness/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "below four-fifths" in text and "57.1%" in text and "30.3%" in text
    body = client.get("/api/v1/audit/statistics/credit-risk/1.0.0/").json()
    foreign = next(a for a in body["fairness"]["attributes"] if a["feature"] == "foreign_worker")
    assert [(g["value"], g["n"], g["favourable"]) for g in foreign["groups"]] == [("yes", 7, 4), ("no", 3, 3)]
    assert body["fairness"]["protected_attribution_share"] == pytest.approx(0.5 / 1.65)
    assert body["outcomes"]["decisions"] == 11
