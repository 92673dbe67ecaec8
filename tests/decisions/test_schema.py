"""Feature schemas: parsing, validation messages, encoding (no database)."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from decisions.schema import FeatureSchema, SchemaError

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
    assert [schema.decode_row(row) for row in schema.encode(clean[:40])] == clean[:40]
