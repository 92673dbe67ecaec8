"""Deep SHAP (DeepLIFT with Shapley rescale rules) for Keras models, through shap."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ._keras import (
    check_model,
    choose_outputs,
    explanation,
    model_outputs,
    tensorflow_device,
    tensorflow_shap_call,
    to_model_input,
)
from .base import Explainer, Explanation, ExplanationError, check_rows
from .devices import library_versions

__all__ = ["DeepExplainer"]


class DeepExplainer(Explainer):
    """shap.DeepExplainer over a Keras (TensorFlow backend) model with softmax/sigmoid outputs.

    Attributions are of the output probability and sum to f(x) - mean f(background) up to float32
    rounding, for the layers shap has rules for (dense, convolution, pooling, the usual
    activations). A layer without a rule either breaks the sum (see additivity_error) or makes
    explain() raise ExplanationError; GradientExplainer is the fallback for such models.

    X is always flat (n, n_columns) and is reshaped to the model's input shape here. The first
    explanation of each class traces a TensorFlow graph (about a second); later ones reuse it.
    """

    method = "deep"

    def __init__(
        self,
        model: Any,
        background: np.ndarray,
        input_shape: tuple[int, ...] | None = None,
    ) -> None:
        import shap

        self._input_shape = check_model(model, input_shape)
        self.n_columns = int(np.prod(self._input_shape))
        self._model = model
        reference = to_model_input(background, self._input_shape)
        with tensorflow_shap_call():
            try:
                self._shap = shap.DeepExplainer(model, reference)
            except Exception as exc:
                raise ExplanationError(
                    f"Deep SHAP cannot be built for this model ({exc}); use method 'gradient'"
                ) from exc
        # Computed by shap as the mean model output over the background (float32).
        self._expected = np.asarray(self._shap.expected_value, dtype=np.float64).reshape(-1)
        self.output_space = "probability"
        self.device = tensorflow_device()
        self.params = {
            "background_rows": int(reference.shape[0]),
            "input_shape": list(self._input_shape),
        }
        self.versions = library_versions()

    def explain(self, X: np.ndarray, classes: np.ndarray | None = None) -> Explanation:
        """Explain the predicted class of each row (or `classes`), all rows in one shap call."""
        started = time.perf_counter()
        rows = check_rows(X, self.n_columns)
        x = to_model_input(rows, self._input_shape)
        with tensorflow_shap_call():
            outputs = model_outputs(self._model, x)
            output_index, explained, flip = choose_outputs(outputs, classes)
            values = self._attributions(x, outputs, output_index)
        index = np.arange(rows.shape[0])
        return explanation(
            method=self.method,
            params=dict(self.params),
            values=values,
            base_values=self._expected[output_index],
            predictions=outputs[index, output_index],
            explained=explained,
            flip=flip,
            device=self.device,
            versions=self.versions,
            compute_seconds=time.perf_counter() - started,
        )

    def _attributions(self, x: np.ndarray, outputs: np.ndarray, output_index: np.ndarray) -> np.ndarray:
        n_rows, n_outputs = outputs.shape
        # shap explains "the top k outputs" of each row; asking for the smallest k that reaches
        # every requested output keeps the common case (the predicted class) at k = 1 and still
        # makes one call for the whole batch. Same float32 outputs, same argsort: same ranks.
        ranks = np.argsort(-outputs, axis=1)
        position = np.argmax(ranks == output_index[:, None], axis=1)
        top_k = int(position.max()) + 1
        for k in (top_k, n_outputs):
            try:
                phis, explained = self._shap.shap_values(
                    x, ranked_outputs=k, output_rank_order="max", check_additivity=False
                )
            except Exception as exc:
                raise ExplanationError(
                    f"Deep SHAP failed on this model ({type(exc).__name__}: {exc}); use method 'gradient'"
                ) from exc
            explained = np.asarray(explained).reshape(n_rows, k)
            found = explained == output_index[:, None]
            if found.any(axis=1).all():
                phis = np.asarray(phis, dtype=np.float64).reshape(n_rows, self.n_columns, k)
                return phis[np.arange(n_rows), :, np.argmax(found, axis=1)]
        # Unreachable: with k = n_outputs shap explains every output of every row.
        raise ExplanationError("shap did not explain the requested output")
