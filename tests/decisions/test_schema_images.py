"""Image features in schemas: greyscale and colour shapes, the channel order, the value range, and
how a submitted colour image is checked and encoded (no database)."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from decisions.schema import FeatureSchema, SchemaError

PHOTO = {
    "name": "photo",
    "label": "Photo of the parcel",
    "type": "image",
    "shape": [2, 3, 3],
    "channels": "BGR",
    "minimum": -1,
    "maximum": 1,
}
SCHEMA = FeatureSchema.from_dict({"features": [{"name": "weight", "type": "numeric"}, PHOTO]})
# 2 x 3 pixels, each (c0, c1, c2) = (row, column, channel) / 10, so the order shows.
NESTED = [[[(r * 10 + c * 3 + k) / 100 for k in range(3)] for c in range(3)] for r in range(2)]


def test_a_colour_image_round_trips_with_its_channels_and_range():
    document = SCHEMA.to_dict()
    photo = document["features"][1]

    assert photo == {
        "name": "photo",
        "label": "Photo of the parcel",
        "description": "",
        "type": "image",
        "mutable": False,
        "protected": False,
        "shape": [2, 3, 3],
        "minimum": -1,
        "maximum": 1,
        "channels": "BGR",
    }
    again = FeatureSchema.from_dict(document)
    assert again == SCHEMA and again.to_dict() == document
    assert again["photo"].channels == "BGR" and again["photo"].shape == (2, 3, 3)


def test_channels_default_to_rgb_and_greyscale_has_none():
    schema = FeatureSchema.from_dict(
        {
            "features": [
                {"name": "colour", "type": "image", "shape": [4, 4, 3]},
                {"name": "grey", "type": "image", "shape": [4, 4, 1], "maximum": 16},
                {"name": "flat", "type": "image", "shape": [4, 4]},
            ]
        }
    )
    colour, grey, flat = schema.to_dict()["features"]

    assert colour["channels"] == "RGB" and (colour["minimum"], colour["maximum"]) == (0, 255)
    assert "channels" not in grey and "channels" not in flat
    assert schema.width == 48 + 16 + 16
    assert FeatureSchema.from_dict(schema.to_dict()) == schema


def test_columns_and_encoding_follow_h_w_c_row_major_order():
    clean, errors = SCHEMA.validate({"weight": 2.5, "photo": NESTED})

    assert errors == {}
    assert SCHEMA.columns == ["weight"] + [f"photo[{i}]" for i in range(18)]
    assert SCHEMA.groups == [("weight", [0]), ("photo", list(range(1, 19)))]
    row = SCHEMA.encode([clean])[0]
    np.testing.assert_array_equal(row[1:], np.asarray(NESTED).reshape(-1))
    assert row[1 + (1 * 3 + 2) * 3 + 1] == NESTED[1][2][1]
    assert SCHEMA.decode_row(row)["photo"] == NESTED
    assert SCHEMA["photo"].display_value(clean["photo"]) == "image 2x3x3"


def test_a_flat_list_is_accepted_like_the_nested_one():
    flat = np.asarray(NESTED).reshape(-1).tolist()

    nested_clean, _ = SCHEMA.validate({"weight": 1, "photo": NESTED})
    flat_clean, errors = SCHEMA.validate({"weight": 1, "photo": flat})

    assert errors == {} and flat_clean == nested_clean


@pytest.mark.parametrize(
    "photo, message",
    [
        ([[0.0, 0.0, 0.0]] * 5, "must have 18 values (2x3x3)"),
        ([[[0.0, 0.0]] * 3] * 2, "must have 18 values (2x3x3)"),
        ([0.0] * 17 + [1.5], "pixel values must lie between -1 and 1"),
        ([0.0] * 17 + ["1"], "must be a list of numbers"),
    ],
)
def test_a_bad_colour_image_names_the_problem(photo, message):
    _, errors = SCHEMA.validate({"weight": 1, "photo": photo})
    assert message in errors["photo"] and list(errors) == ["photo"]


def _png(levels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(levels.astype(np.uint8)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_colour_png_is_read_in_the_declared_channel_order_and_range():
    levels = np.zeros((2, 3, 3), dtype=np.uint8)
    levels[0, 0] = (255, 0, 0)  # red
    levels[1, 2] = (0, 0, 255)  # blue
    rgb = FeatureSchema.from_dict({"features": [dict(PHOTO, channels="RGB")]})

    bgr_clean, bgr_errors = SCHEMA.validate({"weight": 1, "photo": _png(levels)})
    rgb_clean, rgb_errors = rgb.validate({"photo": _png(levels)})

    assert bgr_errors == rgb_errors == {}
    bgr_image = np.asarray(bgr_clean["photo"]).reshape(2, 3, 3)
    rgb_image = np.asarray(rgb_clean["photo"]).reshape(2, 3, 3)
    assert rgb_image[0, 0].tolist() == [1, -1, -1] and rgb_image[1, 2].tolist() == [-1, -1, 1]
    assert bgr_image[0, 0].tolist() == [-1, -1, 1] and bgr_image[1, 2].tolist() == [1, -1, -1]
    _, errors = SCHEMA.validate({"weight": 1, "photo": _png(np.zeros((3, 2, 3)))})
    assert errors == {"photo": "PNG must be 3x2 pixels, got 2x3"}


@pytest.mark.parametrize(
    "feature, message",
    [
        ({"shape": [8, 8, 2]}, r"\[height, width\], \[height, width, 1\] or \[height, width, 3\]"),
        ({"shape": [8, 8, 4]}, r"\[height, width, 3\]"),
        ({"shape": [8]}, r"\[height, width\]"),
        ({"shape": [8, 8, True]}, "positive integers"),
        ({"shape": [8, 8, 3], "channels": "HSV"}, "'channels' must be one of RGB, BGR"),
        ({"shape": [8, 8, 3], "channels": "rgb"}, "'channels' must be one of RGB, BGR"),
        ({"shape": [8, 8], "channels": "RGB"}, "only to a colour image"),
        ({"shape": [8, 8, 1], "channels": "RGB"}, "only to a colour image"),
        ({"shape": [8, 8, 3], "minimum": 1, "maximum": 1}, "minimum < maximum"),
    ],
)
def test_a_malformed_image_declaration_is_a_schema_error(feature, message):
    with pytest.raises(SchemaError, match=message) as refused:
        FeatureSchema.from_dict({"features": [dict({"name": "photo", "type": "image"}, **feature)]})
    assert str(refused.value).startswith("photo: ")
