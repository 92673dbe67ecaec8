"""A decision's feature values checked against their feature's declaration: numbers within
range, known categories, images of the declared shape (as numbers or a PNG). Plain Python.

Each check raises ValueError with the message the client reads under the feature's name.
"""

from __future__ import annotations

import base64
import io
import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .schema import Feature


def is_number(value: Any) -> bool:
    """A JSON number we can compute with: not a bool, finite, and within float range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer beyond float range, e.g. 10**400
        return False


def clean_value(f: Feature, value: Any) -> Any:
    if f.type == "numeric":
        if isinstance(value, str):
            raise ValueError("must be a number, not a string")
        if not is_number(value):
            raise ValueError("must be a finite number")
        if f.integer and float(value) != int(value):
            raise ValueError("must be a whole number")
        if f.minimum is not None and value < f.minimum:
            raise ValueError(f"must be at least {f.minimum:g}{(' ' + f.unit) if f.unit else ''}")
        if f.maximum is not None and value > f.maximum:
            raise ValueError(f"must be at most {f.maximum:g}{(' ' + f.unit) if f.unit else ''}")
        return int(value) if f.integer else float(value)
    if f.type == "categorical":
        allowed = [c.value for c in f.categories]
        if not isinstance(value, str) or value not in allowed:
            shown = ", ".join(repr(v) for v in allowed[:12])
            raise ValueError(f"must be one of {shown}")
        return value
    return _clean_image(f, value)


def _clean_image(f: Feature, value: Any) -> list:
    """An image is a flat or nested list of numbers, or a base64 PNG of the declared shape."""
    if isinstance(value, str):
        array = _decode_png(f, value)
    else:
        flat = np.asarray(value, dtype=object).reshape(-1) if isinstance(value, list) else None
        if flat is None or not all(is_number(v) for v in flat):
            raise ValueError("must be a list of numbers or a base64-encoded PNG")
        array = np.asarray(flat, dtype=np.float64)
        if array.size != f.width:
            raise ValueError(f"must have {f.width} values ({'x'.join(map(str, f.shape))})")
        array = array.reshape(f.shape)
    low, high = f.minimum, f.maximum
    if low is not None and high is not None and (array.min() < low or array.max() > high):
        raise ValueError(f"pixel values must lie between {low:g} and {high:g}")
    return array.reshape(-1).tolist()


def _decode_png(f: Feature, value: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        raw = base64.b64decode(value, validate=True)
        image = Image.open(io.BytesIO(raw))
        image.load()
    except (ValueError, UnidentifiedImageError, OSError):
        raise ValueError("must be a list of numbers or a base64-encoded PNG") from None
    colour = len(f.shape) == 3 and f.shape[2] == 3
    levels = np.asarray(image.convert("RGB" if colour else "L"), dtype=np.float64)
    if levels.shape[:2] != tuple(f.shape[:2]):
        raise ValueError(
            f"PNG must be {f.shape[1]}x{f.shape[0]} pixels, got {levels.shape[1]}x{levels.shape[0]}"
        )
    if colour and f.channels == "BGR":
        levels = levels[:, :, ::-1]
    # 8-bit levels are scaled onto the feature's declared value range.
    low = f.minimum or 0
    high = f.maximum if f.maximum is not None else 255
    return (low + levels / 255.0 * (high - low)).reshape(f.shape)
