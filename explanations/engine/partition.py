"""Partition SHAP (Owen values over a hierarchy of image regions) for image models, through shap."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from .base import Explainer, Explanation, ExplanationError, check_classes, check_rows, seeded_global_rng
from .devices import library_versions

__all__ = ["PartitionExplainer"]

PARTITION_OUTPUT_SPACES = ("probability", "score")


class PartitionExplainer(Explainer):
    """shap.PartitionExplainer with shap's image masker over `predict_fn`, which takes flat rows
    (n, h*w*c), row-major in (h, w, c) order, and returns (n, n_outputs).

    The masker splits the image into halves along its longest axis, recursively down to single
    values (channels last), and a hidden region takes the background's mean image. Owen values
    on that tree sum exactly to f(x) - f(fully masked image) whatever `max_evals` is: a budget
    too small to reach the leaves spreads a region's credit evenly over its values, so the map
    is coarser, never wrong in total. At most `batch_size` masked images (shap adds them in
    pairs: round it to an even number) go to the model per call.

    shap breaks ties in its work queue with numpy's global generator, so every row is explained
    from the same seed: a row's values never depend on the rows batched with it.
    """

    method = "partition"

    def __init__(
        self,
        predict_fn: Callable[[np.ndarray], np.ndarray],
        background: np.ndarray,
        input_shape: tuple[int, ...] | list[int],
        output_space: str = "probability",
        max_evals: int = 1000,
        seed: int = 0,
        batch_size: int = 100,
        device: str = "cpu",
    ) -> None:
        import shap

        if output_space not in PARTITION_OUTPUT_SPACES:
            raise ValueError(
                f"output_space must be one of {', '.join(PARTITION_OUTPUT_SPACES)}, got {output_space!r}"
            )
        for name, number in (("max_evals", max_evals), ("batch_size", batch_size)):
            if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                raise ValueError(f"{name} must be a positive int, got {number!r}")
        self._image_shape = _image_shape(input_shape)
        self.n_columns = int(np.prod(self._image_shape))
        reference = np.asarray(background, dtype=np.float64)
        if reference.ndim != 2 or reference.shape[0] == 0 or reference.shape[1] != self.n_columns:
            raise ValueError(
                f"background must be a non-empty (n, {self.n_columns}) array for input shape "
                f"{tuple(input_shape)}, got {reference.shape}"
            )
        # The background's mean image stands in for every hidden region.
        self._mask_image = reference.mean(axis=0)
        self._predict_fn = predict_fn
        masker = shap.maskers.Image(self._mask_image.reshape(self._image_shape), self._image_shape)
        self._shap = shap.PartitionExplainer(self._outputs, masker)
        self._base = self._outputs(self._mask_image[None, :])[0]
        self._max_evals = int(max_evals)
        self._batch_size = int(batch_size)
        self._seed = int(seed)
        self.output_space = output_space
        self.device = device
        self.params = {
            "max_evals": self._max_evals,
            "batch_size": self._batch_size,
            "seed": self._seed,
            "masker": "background mean image",
            "background_rows": int(reference.shape[0]),
            "input_shape": list(self._image_shape),
        }
        self.versions = library_versions()

    def explain(self, X: np.ndarray, classes: np.ndarray | None = None) -> Explanation:
        """Explain output column `classes[i]` of each row (default: the largest output)."""
        started = time.perf_counter()
        rows = check_rows(X, self.n_columns)
        n_rows = rows.shape[0]
        outputs = self._outputs(rows)
        n_outputs = outputs.shape[1]
        default = np.argmax(outputs, axis=1) if n_outputs > 1 else np.zeros(n_rows, dtype=np.int64)
        explained = check_classes(classes, default, n_outputs)
        values = np.empty((n_rows, self.n_columns), dtype=np.float64)
        for row in range(n_rows):
            values[row] = self._explain_row(rows[row], int(explained[row]))
        index = np.arange(n_rows)
        return self._result(
            values=values,
            base_values=self._base[explained],
            predictions=outputs[index, explained],
            explained_class=explained,
            started=started,
        )

    def _outputs(self, rows: np.ndarray) -> np.ndarray:
        out = np.asarray(self._predict_fn(np.asarray(rows, dtype=np.float64)), dtype=np.float64)
        return out.reshape(out.shape[0], -1)

    def _explain_row(self, row: np.ndarray, output: int) -> np.ndarray:
        # The shap explainer keeps per-call state on itself; the seeded scope also serialises.
        with seeded_global_rng(self._seed):
            try:
                result = self._shap(
                    row[None, :],
                    max_evals=self._max_evals,
                    batch_size=self._batch_size,
                    outputs=np.array([output]),
                    silent=True,
                )
            except Exception as exc:
                raise ExplanationError(f"Partition SHAP failed ({type(exc).__name__}: {exc})") from exc
        return np.asarray(result.values, dtype=np.float64).reshape(self.n_columns)


def _image_shape(input_shape: tuple[int, ...] | list[int]) -> tuple[int, int, int]:
    """(h, w, c) of one image; a greyscale (h, w) gets its single channel."""
    shape = tuple(int(n) for n in input_shape)
    if len(shape) == 2:
        shape = (*shape, 1)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            f"input_shape must be (height, width) or (height, width, channels), got {input_shape!r}"
        )
    return shape  # type: ignore[return-value]
