"""An honest colour-image task from bundled data: scikit-learn's 8x8 digits drawn in coloured ink
on white paper, one of three inks at random, 0-255 per channel, flattened (h, w, 3) row-major.
The class is the digit; the ink is noise the model must see through."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

SHAPE = (8, 8, 3)
INKS = np.array([[200, 30, 30], [20, 130, 40], [40, 60, 200]], dtype=np.float64)
PAPER = np.array([255.0, 255.0, 255.0])
SCHEMA = {
    "features": [
        {
            "name": "image",
            "label": "Form digit",
            "type": "image",
            "shape": list(SHAPE),
            "channels": "RGB",
            "minimum": 0,
            "maximum": 255,
        }
    ]
}


def coloured_digits(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(rows (1797, 192) in 0-255, labels (1797,))."""
    digits = load_digits()
    ink = digits.images / 16.0  # (n, 8, 8), 0 = paper, 1 = full ink
    colours = INKS[np.random.default_rng(seed).integers(0, len(INKS), size=len(ink))]
    images = PAPER * (1.0 - ink[..., None]) + colours[:, None, None, :] * ink[..., None]
    return np.rint(images).reshape(len(ink), -1), digits.target
