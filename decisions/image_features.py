"""Image features of a schema: their declaration, and their pixels as a person sees them.

An image feature is ``{"type": "image", "shape": [h, w] | [h, w, 1] | [h, w, 3],
"channels": "RGB" | "BGR", "minimum": 0, "maximum": 255}``: greyscale or colour, its values
flattened row-major in (h, w, c) order into the model's columns, `minimum`/`maximum` the range
of one value. `channels` says the order of a colour image's three values (default "RGB"); a
greyscale image has none. Plain Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import numpy as np

from .feature_values import is_number

if TYPE_CHECKING:
    from .schema import Feature

CHANNEL_ORDERS: Final = ("RGB", "BGR")


def image_fields(name: str, raw: dict) -> dict[str, Any]:
    """The Feature fields of an image declaration; ValueError naming what is wrong."""
    shape = raw.get("shape")
    if not isinstance(shape, list) or not shape or not all(_positive_int(n) for n in shape):
        raise ValueError(f"{name}: image feature needs a 'shape' of positive integers")
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in (1, 3)):
        raise ValueError(
            f"{name}: image 'shape' must be [height, width], [height, width, 1] or [height, width, 3]"
        )
    minimum, maximum = raw.get("minimum", 0), raw.get("maximum", 255)
    if not is_number(minimum) or not is_number(maximum) or minimum >= maximum:
        raise ValueError(f"{name}: image 'minimum' and 'maximum' must be numbers, minimum < maximum")
    colour = len(shape) == 3 and shape[2] == 3
    channels = raw.get("channels", "RGB" if colour else None)
    if not colour and channels is not None:
        raise ValueError(f"{name}: 'channels' applies only to a colour image of shape [height, width, 3]")
    if colour and channels not in CHANNEL_ORDERS:
        raise ValueError(f"{name}: 'channels' must be one of {', '.join(CHANNEL_ORDERS)}")
    return {
        "shape": tuple(shape),
        "minimum": minimum,
        "maximum": maximum,
        "channels": channels or "",
        "encoding": "pixels",
    }


def image_declaration(f: Feature) -> dict[str, Any]:
    """The schema document's fields of an image feature (the inverse of `image_fields`)."""
    out: dict[str, Any] = {"shape": list(f.shape), "minimum": f.minimum, "maximum": f.maximum}
    if f.channels:
        out["channels"] = f.channels
    return out


def n_channels(f: Feature) -> int:
    return f.shape[2] if len(f.shape) == 3 else 1


def rgb_pixels(f: Feature, values: Any) -> np.ndarray:
    """The image as 8-bit RGB (h, w, 3), the feature's value range mapped onto 0-255: the
    inverse of how a submitted PNG is read, so an image shows as it was sent."""
    h, w = f.shape[0], f.shape[1]
    array = np.asarray(values, dtype=np.float64).reshape(h, w, n_channels(f))
    low, high = float(f.minimum), float(f.maximum)
    levels = np.clip(np.rint((array - low) / (high - low) * 255.0), 0, 255).astype(np.uint8)
    if levels.shape[2] == 1:
        return np.repeat(levels, 3, axis=2)
    return levels[:, :, ::-1] if f.channels == "BGR" else levels


def pixel_map(f: Feature, values: Any) -> np.ndarray:
    """Per-value attributions of one image (its flat columns) summed over channels: (h, w)."""
    h, w = f.shape[0], f.shape[1]
    return np.asarray(values, dtype=np.float64).reshape(h, w, n_channels(f)).sum(axis=2)


def _positive_int(n: Any) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and n > 0
