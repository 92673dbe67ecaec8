"""The German Credit data set as the `credit-risk` demo sees it: each attribute's schema entry,
labelled for an applicant, with where it comes from in the CSV (the model's 17 inputs, then the
3 protected attributes it only monitors); the output semantics; and what the subject is told
about the processing. Plain Python."""

from __future__ import annotations

from .credit_schema_de import FEATURES_DE, TEXTS_DE

_SCALE = "on a scale of 1 to 4"


def _numeric(
    name, column, label, description, minimum, maximum, unit, mutable, protected=False, monitored=False
):
    return {
        "name": name,
        "csv": column,
        "label": label,
        "description": description,
        "type": "numeric",
        "minimum": minimum,
        "maximum": maximum,
        "unit": unit,
        "integer": True,
        "mutable": mutable,
        "protected": protected,
        **({"monitored": True} if monitored else {}),
    }


def _categorical(name, column, label, description, categories, mutable, protected=False, monitored=False):
    """categories: (value code, label a person reads, the exact text in the CSV)."""
    return {
        "name": name,
        "csv": column,
        "label": label,
        "description": description,
        "type": "categorical",
        "encoding": "one_hot",
        "categories": [{"value": v, "label": lbl, "csv": raw} for v, lbl, raw in categories],
        "mutable": mutable,
        "protected": protected,
        **({"monitored": True} if monitored else {}),
    }


# The source of truth: schema fields plus where each comes from in the CSV ("csv" keys, stripped
# from SCHEMA below). Category order is the UCI code order and fixes the model's column order, so
# never reorder it without training a new version. Only categories that occur in the data are
# listed (UCI's "vacation" purpose and "female: single" status do not occur): a category the
# model never saw would be accepted and silently treated like an unseen value.
# Ranges are the data's: the model has seen nothing outside them.
FEATURES: list[dict] = [
    _categorical(
        "checking_account",
        "status_of_existing_checking_account",
        "Balance of your current account",
        "How much money is in your current account at this bank.",
        [
            ("lt_0", "Overdrawn (below 0 DM)", "... < 0 DM"),
            ("0_to_200", "0 to under 200 DM", "0 <= ... < 200 DM"),
            (
                "ge_200",
                "200 DM or more, or salary paid in for at least a year",
                "... >= 200 DM / salary assignments for at least 1 year",
            ),
            ("none", "No current account", "no checking account"),
        ],
        mutable=True,
    ),
    _numeric(
        "duration_months",
        "duration_in_month",
        "Loan duration",
        "How many months you would take to repay the loan.",
        4,
        72,
        "months",
        mutable=True,
    ),
    _categorical(
        "credit_history",
        "credit_history",
        "Repayment history",
        "How you have repaid credit in the past, here and at other banks.",
        [
            (
                "none_taken",
                "No credit taken, or all credit repaid on time",
                "no credits taken/ all credits paid back duly",
            ),
            (
                "all_paid_here",
                "All credit at this bank repaid on time",
                "all credits at this bank paid back duly",
            ),
            (
                "paid_duly",
                "Current credit repaid on time so far",
                "existing credits paid back duly till now",
            ),
            ("delayed", "Late repayments in the past", "delay in paying off in the past"),
            (
                "critical",
                "Critical account, or credit held at other banks",
                "critical account/ other credits existing (not at this bank)",
            ),
        ],
        mutable=False,
    ),
    _categorical(
        "purpose",
        "purpose",
        "What the loan is for",
        "What you intend to spend the loan on.",
        [
            ("car_new", "New car", "car (new)"),
            ("car_used", "Used car", "car (used)"),
            ("furniture", "Furniture or equipment", "furniture/equipment"),
            ("radio_tv", "Radio or television", "radio/television"),
            ("appliances", "Household appliances", "domestic appliances"),
            ("repairs", "Repairs", "repairs"),
            ("education", "Education", "education"),
            ("retraining", "Retraining", "retraining"),
            ("business", "Business", "business"),
            ("other", "Something else", "others"),
        ],
        mutable=True,
    ),
    _numeric(
        "credit_amount",
        "credit_amount",
        "Loan amount",
        "How much you asked to borrow, in Deutsche Mark.",
        250,
        18424,
        "DM",
        mutable=True,
    ),
    _categorical(
        "savings",
        "savings_account_and_bonds",
        "Savings",
        "How much you hold in savings accounts and bonds.",
        [
            ("lt_100", "Under 100 DM", "... < 100 DM"),
            ("100_to_500", "100 to under 500 DM", "100 <= ... < 500 DM"),
            ("500_to_1000", "500 to under 1000 DM", "500 <= ... < 1000 DM"),
            ("ge_1000", "1000 DM or more", "... >= 1000 DM"),
            ("none", "No savings, or not known", "unknown/ no savings account"),
        ],
        mutable=True,
    ),
    _categorical(
        "employment_since",
        "present_employment_since",
        "Time in your current job",
        "How long you have been with your present employer.",
        [
            ("unemployed", "Not employed", "unemployed"),
            ("lt_1", "Under 1 year", "... < 1 year"),
            ("1_to_4", "1 to under 4 years", "1 <= ... < 4 years"),
            ("4_to_7", "4 to under 7 years", "4 <= ... < 7 years"),
            ("ge_7", "7 years or more", "... >= 7 years"),
        ],
        mutable=False,
    ),
    # The UCI documentation calls this a percentage of disposable income, but its values are
    # 1 to 4: a coded band, not a percentage (see data/README.md), so no "%" unit is shown.
    _numeric(
        "installment_rate",
        "installment_rate_in_percentage_of_disposable_income",
        "Instalment compared with your income",
        "Your monthly instalment compared with your disposable income, as a band from 1 to 4.",
        1,
        4,
        _SCALE,
        mutable=True,
    ),
    _categorical(
        "other_debtors",
        "other_debtors_or_guarantors",
        "Guarantor or co-applicant",
        "Whether someone else guarantees the loan or applies for it with you.",
        [
            ("none", "No one", "none"),
            ("co_applicant", "A co-applicant", "co-applicant"),
            ("guarantor", "A guarantor", "guarantor"),
        ],
        mutable=True,
    ),
    _numeric(
        "residence_since",
        "present_residence_since",
        "Time at your current address",
        "How long you have lived at your address, as a band from 1 (shortest) to 4 (longest).",
        1,
        4,
        _SCALE,
        mutable=False,
    ),
    _categorical(
        "property",
        "property",
        "Most valuable property",
        "The most valuable thing you own that could back the loan.",
        [
            ("real_estate", "Real estate", "real estate"),
            (
                "savings_insurance",
                "Building-society savings or life insurance",
                "building society savings agreement/ life insurance",
            ),
            (
                "car_other",
                "A car or other property",
                "car or other, not in attribute Savings account/bonds",
            ),
            ("none", "None, or not known", "unknown / no property"),
        ],
        mutable=False,
    ),
    _categorical(
        "other_installment_plans",
        "other_installment_plans",
        "Other instalment plans",
        "Whether you are already paying off other instalment plans, and with whom.",
        [
            ("bank", "With a bank", "bank"),
            ("stores", "With a shop", "stores"),
            ("none", "None", "none"),
        ],
        mutable=True,
    ),
    _categorical(
        "housing",
        "housing",
        "Housing",
        "Whether you rent, own or live rent-free in your home.",
        [
            ("rent", "Rent", "rent"),
            ("own", "Own", "own"),
            ("free", "Live rent-free", "for free"),
        ],
        mutable=False,
    ),
    _numeric(
        "existing_credits",
        "number_of_existing_credits_at_this_bank",
        "Credits you already have with us",
        "How many credits you already hold at this bank, from 1 to 4 (higher means more).",
        1,
        4,
        "",
        mutable=True,
    ),
    _categorical(
        "job",
        "job",
        "Type of job",
        "The kind of work you do.",
        [
            (
                "unskilled_nonresident",
                "Not employed or unskilled, not resident",
                "unemployed/ unskilled - non-resident",
            ),
            ("unskilled_resident", "Unskilled, resident", "unskilled - resident"),
            ("skilled", "Skilled employee or official", "skilled employee / official"),
            (
                "highly_qualified",
                "Manager, self-employed or highly qualified",
                "management/ self-employed/ highly qualified employee/ officer",
            ),
        ],
        mutable=False,
    ),
    _numeric(
        "dependents",
        "number_of_people_being_liable_to_provide_maintenance_for",
        "People you support",
        "The people you provide for financially, as recorded in the data: 1 or 2.",
        1,
        2,
        "",
        mutable=False,
    ),
    _categorical(
        "telephone",
        "telephone",
        "Telephone in your name",
        "Whether a telephone line is registered in your name.",
        [
            ("none", "No", "none"),
            ("yes", "Yes", "yes, registered under the customers name"),
        ],
        mutable=True,
    ),
    # Monitored, not model inputs: recorded with each decision for the fairness views only (the
    # outcome rates by group, the four-fifths rule). The model never sees them, so they are
    # never a reason or a counterfactual; no EU lender would decide on sex, marital status, age
    # or nationality.
    _categorical(
        "personal_status_sex",
        "personal_status_and_sex",
        "Sex and marital status",
        "Your sex and marital status as recorded in the application.",
        [
            ("male_divorced", "Man, divorced or separated", "male : divorced/separated"),
            (
                "female_not_single",
                "Woman, divorced, separated or married",
                "female : divorced/separated/married",
            ),
            ("male_single", "Man, single", "male : single"),
            ("male_married", "Man, married or widowed", "male : married/widowed"),
        ],
        mutable=False,
        protected=True,
        monitored=True,
    ),
    _numeric(
        "age_years",
        "age_in_years",
        "Age",
        "Your age when you applied.",
        19,
        75,
        "years",
        mutable=False,
        protected=True,
        monitored=True,
    ),
    _categorical(
        "foreign_worker",
        "foreign_worker",
        "Foreign worker",
        "Whether you were recorded as a foreign worker.",
        [
            ("yes", "Yes", "yes"),
            ("no", "No", "no"),
        ],
        mutable=False,
        protected=True,
        monitored=True,
    ),
]


def _strip_csv(item: dict) -> dict:
    out = {k: v for k, v in item.items() if k != "csv"} | {"translations": {"de": FEATURES_DE[item["name"]]}}
    if "categories" in out:
        out["categories"] = [{"value": c["value"], "label": c["label"]} for c in out["categories"]]
    return out


SCHEMA: dict = {"features": [_strip_csv(item) for item in FEATURES]}

OUTPUT: dict = {
    "type": "binary",
    "class_labels": ["refused", "approved"],
    "favourable_label": "approved",
    "threshold": 0.5,
    "score_meaning": "Estimated probability that the loan is repaid as agreed",
}

SUBJECT_TEXTS: dict = {
    "controller": "Demo Bank AG",
    "purpose": (
        "We use an automated credit assessment to decide loan applications. It estimates how "
        "likely it is that a loan like yours will be repaid as agreed, from the information in "
        "your application and your history with us. Your sex and marital status, your age and "
        "whether you are a foreign worker are recorded only to check that applicants are treated "
        "fairly: the assessment does not use them."
    ),
    "significance": (
        "The assessment decides your application on its own: if the estimated chance of "
        "repayment is 50% or more the loan is approved, otherwise it is refused. No person "
        "looks at the application before the decision unless you ask for one."
    ),
    "consequences": (
        "If your application is refused you do not get this loan from us. A refusal is not "
        "reported to credit agencies and does not stop you applying again, for example for a "
        "smaller amount, a different duration or with a guarantor. You can ask for a person to "
        "review the decision, give your point of view and contest it."
    ),
    "legal_basis": (
        "Article 22(2)(a) GDPR: the automated decision is necessary for entering into a loan "
        "contract with you. Your information is processed under Article 6(1)(b) GDPR to take "
        "the steps you asked for before entering into that contract."
    ),
    "contact": (
        "Data Protection Officer, Demo Bank AG, dpo@demo-bank.example. You may also complain "
        "to your data protection supervisory authority."
    ),
    "translations": {"de": TEXTS_DE},
}
