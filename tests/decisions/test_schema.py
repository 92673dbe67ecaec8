"""Feature schemas: parsing, validation messages, encoding (no database)."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from decisions.schema import FeatureSchema, SchemaError
from explanations.contributions import contributions_compact, contributions_labelled

SCHEMA = FeatureSchema.from_dict(
    {
        "features": [
            {
                "name": "amount",
                "type": "numeric",
                "minimum": 0,
                "maximum": 1000,
                "unit": "EUR",
                "integer": True,
            },
            {
                "name": "housing",
                "type": "categorical",
                "encoding": "one_hot",
                "categories": [{"value": "own", "label": "Owns"}, {"value": "rent", "label": "Rents"}],
            },
            {
                "name": "level",
                "type": "categorical",
                "encoding": "ordinal",
                "categories": ["low", "mid", "high"],
            },
        ]
    }
)
IMAGE = FeatureSchema.from_dict(
    {"features": [{"name": "image", "type": "image", "shape": [2, 2], "minimum": 0, "maximum": 16}]}
)


def test_columns_and_groups_follow_the_encoding():
    assert SCHEMA.columns == ["amount", "housing=own", "housing=rent", "level"]
    assert SCHEMA.groups == [("amount", [0]), ("housing", [1, 2]), ("level", [3])]


@pytest.mark.parametrize("amount", [0, 1000])
def test_a_value_equal_to_a_bound_is_accepted(amount):
    clean, errors = SCHEMA.validate({"amount": amount, "housing": "own", "level": "low"})
    assert errors == {} and clean["amount"] == amount
    image, errors = IMAGE.validate({"image": [0, 16, 16, 0]})
    assert errors == {} and image["image"] == [0.0, 16.0, 16.0, 0.0]
    matrix = SCHEMA.encode([{"amount": 5, "housing": "rent", "level": "high"}])
    np.testing.assert_array_equal(matrix, [[5, 0, 1, 2]])
    assert SCHEMA.decode_row(matrix[0]) == {"amount": 5, "housing": "rent", "level": "high"}


@pytest.mark.parametrize(
    "features, field, message",
    [
        ({"amount": 10**400, "housing": "own", "level": "low"}, "amount", "finite number"),
        ({"amount": True, "housing": "own", "level": "low"}, "amount", "finite number"),
        ({"amount": 1001, "housing": "own", "level": "low"}, "amount", "at most 1000 EUR"),
        ({"amount": 1, "housing": "OWN", "level": "low"}, "housing", "must be one of 'own', 'rent'"),
        ({"amount": 1, "housing": "own"}, "level", "required"),
    ],
)
def test_validation_names_the_field(features, field, message):
    clean, errors = SCHEMA.validate(features)
    assert message in errors[field] and list(errors) == [field]


@pytest.mark.parametrize(
    "document, message",
    [
        ({"features": []}, "at least one feature"),
        ({"features": [{"name": "a b", "type": "numeric"}]}, "identifier"),
        ({"features": [{"name": "a", "type": "numeric"}, {"name": "a", "type": "numeric"}]}, "duplicate"),
        ({"features": [{"name": "a", "type": "numeric", "minimum": 5, "maximum": 1}]}, "greater than"),
        ({"features": [{"name": "a", "type": "categorical", "categories": []}]}, "categories"),
        ({"features": [{"name": "a", "type": "image", "shape": [8, 8], "minimum": "0"}]}, "must be numbers"),
    ],
)
def test_malformed_schema_refused(document, message):
    with pytest.raises(SchemaError, match=message):
        FeatureSchema.from_dict(document)


def test_image_as_numbers_or_png():
    clean, errors = IMAGE.validate({"image": [[0, 16], [8, 4]]})
    assert not errors and clean["image"] == [0.0, 16.0, 8.0, 4.0]
    buffer = io.BytesIO()
    Image.fromarray(np.array([[0, 255], [255, 0]], dtype=np.uint8)).save(buffer, format="PNG")
    clean, errors = IMAGE.validate({"image": base64.b64encode(buffer.getvalue()).decode()})
    assert not errors and clean["image"] == [0.0, 16.0, 16.0, 0.0]
    assert "must have 4 values" in IMAGE.validate({"image": [1, 2, 3]})[1]["image"]
    assert "between 0 and 16" in IMAGE.validate({"image": [1, 2, 3, 17]})[1]["image"]
    assert "base64" in IMAGE.validate({"image": "not a png"})[1]["image"]


def test_a_few_rows_and_many_rows_encode_alike():
    # encode fills a few rows as one list and many with numpy column by column: the same matrix.
    from demo import credit, digits

    schema = FeatureSchema.from_dict(credit.SCHEMA)
    rows, _ = credit.load_applicants()
    clean = [schema.validate(row)[0] for row in rows]
    images = FeatureSchema.from_dict(digits.SCHEMA)
    pixels = [{"image": list(p)} for p in digits.load_images()[0][:100]]

    for s, batch in ((schema, clean), (images, pixels)):
        many = s.encode(batch)
        assert many.shape == (len(batch), len(s.columns))
        assert np.array_equal(np.vstack([s.encode([row]) for row in batch]), many)
        assert np.array_equal(s.encode(batch[:5]), many[:5])
    # Decoding gives the model's inputs back; the monitored attributes were never encoded.
    inputs = [{name: row[name] for name in schema.names} for row in clean[:40]]
    assert [schema.decode_row(row) for row in schema.encode(clean[:40])] == inputs


# ---------------------------------------------------------------------------- monitored features
MONITORED = {
    "features": [
        {"name": "amount", "type": "numeric", "minimum": 0, "maximum": 1000},
        {"name": "sex", "label": "Sex", "type": "categorical", "categories": ["f", "m"], "protected": True,
         "monitored": True},
        {"name": "housing", "type": "categorical", "categories": ["own", "rent"]},
        {"name": "age", "label": "Age", "type": "numeric", "minimum": 18, "protected": True, "monitored": True},
    ]
}  # fmt: skip
APPLICANT = {"amount": 5, "sex": "f", "housing": "rent", "age": 40}


def test_a_monitored_feature_is_validated_and_kept_but_never_encoded():
    schema = FeatureSchema.from_dict(MONITORED)

    clean, errors = schema.validate(APPLICANT)

    assert errors == {} and clean == APPLICANT  # stored with the decision like any other
    assert [f.name for f in schema.inputs] == schema.names == ["amount", "housing"]
    assert [f.name for f in schema.monitored] == ["sex", "age"]
    assert schema.columns == ["amount", "housing=own", "housing=rent"]
    assert schema.groups == [("amount", [0]), ("housing", [1, 2])]
    np.testing.assert_array_equal(schema.encode([clean]), [[5, 0, 1]])
    # Whatever its value, the model's row is the same.
    np.testing.assert_array_equal(schema.encode([{**clean, "sex": "m", "age": 90}]), [[5, 0, 1]])
    assert schema.decode_row(np.array([5.0, 0.0, 1.0])) == {"amount": 5.0, "housing": "rent"}
    assert schema["age"].monitored and not schema["amount"].monitored


@pytest.mark.parametrize(
    "features, field, message",
    [
        ({"amount": 5, "sex": "x", "housing": "own", "age": 40}, "sex", "must be one of 'f', 'm'"),
        ({"amount": 5, "sex": "f", "housing": "own", "age": 12}, "age", "at least 18"),
        ({"amount": 5, "sex": "f", "housing": "own"}, "age", "required"),
    ],
)
def test_a_monitored_value_is_checked_like_any_other(features, field, message):
    clean, errors = FeatureSchema.from_dict(MONITORED).validate(features)
    assert list(errors) == [field] and message in errors[field]


def test_the_schema_says_which_features_are_only_monitored_and_round_trips():
    schema = FeatureSchema.from_dict(MONITORED)

    document = schema.to_dict()

    assert [f["name"] for f in document["features"] if f.get("monitored")] == ["sex", "age"]
    assert all("monitored" not in f for f in document["features"] if f["name"] in ("amount", "housing"))
    again = FeatureSchema.from_dict(document)
    assert again == schema and again.to_dict() == document
    assert FeatureSchema.from_dict(document) != FeatureSchema.from_dict(
        {"features": [{**f, "monitored": False} for f in document["features"]]}
    )


@pytest.mark.parametrize(
    "feature, message",
    [
        (
            {"name": "sex", "type": "categorical", "categories": ["f", "m"], "monitored": True},
            "must be protected",
        ),
        ({"name": "age", "type": "numeric", "protected": True, "monitored": "yes"}, "true or false"),
        ({"name": "face", "type": "image", "shape": [2, 2], "protected": True, "monitored": True}, "image"),
    ],
)
def test_a_monitored_feature_must_be_a_protected_number_or_category(feature, message):
    with pytest.raises(SchemaError, match=message):
        FeatureSchema.from_dict({"features": [{"name": "amount", "type": "numeric"}, feature]})


def test_a_schema_needs_at_least_one_model_input():
    only_monitored = {"features": [{"name": "age", "type": "numeric", "protected": True, "monitored": True}]}
    with pytest.raises(SchemaError, match="at least one model input"):
        FeatureSchema.from_dict(only_monitored)


def test_a_monitored_feature_is_marked_in_the_labelled_contributions_with_none():
    schema = FeatureSchema.from_dict(MONITORED)
    contributions = contributions_compact(schema, [0.25, -0.5])

    plain = contributions_labelled(schema, APPLICANT, contributions)
    marked = contributions_labelled(schema, APPLICANT, contributions, with_monitored=True)

    assert contributions == {"amount": 0.25, "housing": -0.5}
    assert [c["feature"] for c in plain] == ["amount", "housing"] and "monitored" not in plain[0]
    assert [(c["feature"], c["contribution"], c["monitored"]) for c in marked] == [
        ("amount", 0.25, False),
        ("housing", -0.5, False),
        ("sex", None, True),
        ("age", None, True),
    ]
    assert marked[3] == {
        "feature": "age",
        "label": "Age",
        "value": 40,
        "display_value": "40",
        "contribution": None,
        "mutable": False,
        "protected": True,
        "monitored": True,
    }
