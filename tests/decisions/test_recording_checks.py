"""A decision's request fields are checked once, by the recording service: what it accepts and
what it names as wrong (no database: the shape is checked before the model is looked up)."""

import pytest

from decisions.recording import NOT_AN_OBJECT, UNKNOWN_FIELD, DecisionInput, decision_input_errors

FEATURES = {"age_years": 30}
BASE = {"model": "credit-risk", "subject_ref": "s-1", "features": FEATURES}


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"model_version": ""},
        {"model_version": "1"},
        {"model_version": None},  # absent: the newest active version
        {"reference": ""},
        {"reference": "loan-42"},
        {"reference": "r" * 128, "subject_ref": "s" * 128, "model": "m" * 64},
        {"subject_ref": " s-1 "},  # trimmed when recorded
        {"subject_ref": "Zoë"},
    ],
)
def test_a_well_formed_decision_has_no_errors(change):
    assert decision_input_errors(DecisionInput.from_raw({**BASE, **change})) == {}


@pytest.mark.parametrize(
    "change, errors",
    [
        ({"subject_ref": "s" * 129}, {"subject_ref": "at most 128 characters"}),
        ({"reference": "r" * 129}, {"reference": "at most 128 characters"}),
        ({"model": "m" * 65}, {"model": "at most 64 characters"}),
        ({"subject_ref": ""}, {"subject_ref": "this field is required"}),
        ({"subject_ref": "   "}, {"subject_ref": "this field is required"}),
        ({"subject_ref": "a\x00b"}, {"subject_ref": "must not contain NUL characters"}),
        ({"model": 5}, {"model": "must be a string"}),
        ({"features": None}, {"features": "this field is required"}),
        ({"refrence": "loan-42"}, {"refrence": UNKNOWN_FIELD}),  # not a field: refused, not dropped
    ],
)
def test_each_bad_field_is_named(change, errors):
    assert decision_input_errors(DecisionInput.from_raw({**BASE, **change})) == errors


@pytest.mark.parametrize("missing", ["model", "subject_ref", "features"])
def test_a_missing_required_field_is_named(missing):
    data = {k: v for k, v in BASE.items() if k != missing}
    assert decision_input_errors(DecisionInput.from_raw(data)) == {missing: "this field is required"}


@pytest.mark.parametrize("raw", [[BASE], "credit-risk", None, 5])
def test_a_decision_that_is_not_an_object_is_refused_as_a_whole(raw):
    assert decision_input_errors(DecisionInput.from_raw(raw)) == {"non_field_errors": NOT_AN_OBJECT}
