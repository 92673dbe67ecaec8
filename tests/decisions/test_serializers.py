"""The single-decision request's shortcut gives exactly what the serializer would, or defers to it."""

import pytest

from decisions.serializers import DecisionCreateSerializer

FEATURES = {"age_years": 30}
BASE = {"model": "credit-risk", "subject_ref": "s-1", "features": FEATURES}


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"model_version": ""},
        {"model_version": "1"},
        {"reference": ""},
        {"reference": "loan-42"},
        {"reference": "r" * 128, "subject_ref": "s" * 128, "model": "m" * 64},
    ],
)
def test_plainly_well_formed_requests_give_what_the_serializer_gives(change):
    data = {**BASE, **change}
    serializer = DecisionCreateSerializer(data=data)
    assert serializer.is_valid(), serializer.errors
    assert DecisionCreateSerializer.plain_input(data) == serializer.to_input()


@pytest.mark.parametrize(
    "change, serializer_valid",
    [
        ({"subject_ref": " s-1 "}, True),  # DRF trims it
        ({"subject_ref": "Zoë"}, True),  # not ASCII: left to DRF's checks
        ({"model": 5}, True),  # DRF turns it into "5"
        ({"subject_ref": "s" * 129}, False),
        ({"reference": "r" * 129}, False),
        ({"model_version": None}, False),
        ({"subject_ref": ""}, False),
        ({"subject_ref": "a\x00b"}, False),
        ({"features": None}, False),
        ({"refrence": "loan-42"}, False),  # not a field: refused, not dropped
    ],
)
def test_anything_else_is_left_to_the_serializer(change, serializer_valid):
    data = {**BASE, **change}
    assert DecisionCreateSerializer.plain_input(data) is None
    assert DecisionCreateSerializer(data=data).is_valid() is serializer_valid


@pytest.mark.parametrize("missing", ["model", "subject_ref", "features"])
def test_a_missing_required_field_is_left_to_the_serializer(missing):
    data = {k: v for k, v in BASE.items() if k != missing}
    assert DecisionCreateSerializer.plain_input(data) is None
    serializer = DecisionCreateSerializer(data=data)
    assert not serializer.is_valid()
    assert set(serializer.errors) == {missing}


def test_the_explanation_link_is_what_reverse_gives_under_any_script_prefix():
    import uuid

    from django.urls import get_script_prefix, reverse, set_script_prefix

    from decisions.serializers import explanation_url

    before = get_script_prefix()
    try:
        for prefix in ("/", "/rationale/", "/a/b/"):
            set_script_prefix(prefix)
            for decision_id in (uuid.uuid4(), uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)):
                url = explanation_url(decision_id)
                assert url == reverse("api-decision-explanation", args=[decision_id])
                assert url.startswith(prefix) and str(decision_id) in url
    finally:
        set_script_prefix(before)
