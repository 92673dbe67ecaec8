"""ONNX models, run by onnxruntime (imported only when one is loaded).

One float input, tabular (batch, m) or an image: our rows are the image flattened row-major
in (h, w, c) order, as the schema's `input_shape` (h, w) or (h, w, c) says, and are reshaped to
what the model takes: NCHW (as PyTorch exports, transposed), NHWC, or (N, h, w) for greyscale.
The output used is the model's one float tensor (n, k) or (n,): a classifier's probabilities
(named "prob..." where a model has several float outputs, as skl2onnx's do not) or a
regression's score. skl2onnx's default ZipMap output (a sequence of maps) is refused with the
export option that avoids it: converting it would cost a Python dict per row.
"""

from __future__ import annotations

import math
import re

import numpy as np

from .base import ArtifactError, Predictor

_INPUT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64}
_FLOAT_OUTPUTS = frozenset({"tensor(float)", "tensor(double)", "tensor(float16)"})
_ORT_PREFIX = re.compile(r"^\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*")
# onnxruntime prefixes many messages with its source location and the C++ signature there.
_SOURCE_LOCATION = re.compile(r"\S+\.(?:cc|cpp|cu|h):\d+\s+(?:[^(]*::[^(]*\([^)]*\)\s*(?:const\s*)?)?")
_PATH = re.compile(r"(?:/[\w.@+-]+){2,}")


class OnnxPredictor(Predictor):
    """An onnxruntime session over the artifact. `threads` is onnxruntime's intra-op thread
    count (one in the web, where every call predicts a few rows); `max_batch` bounds the rows of
    one session call, so an explainer's large batches allocate in bounded pieces. The session
    is thread-safe (InferenceSession.run is), so predict_proba takes no lock."""

    framework = "onnx"

    def __init__(
        self,
        artifact: bytes,
        input_shape: list[int] | None = None,
        *,
        threads: int = 1,
        max_batch: int = 4096,
    ) -> None:
        import onnxruntime as ort

        if max_batch < 1:
            raise ValueError("max_batch must be positive")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: a warning per load would flood the logs
        providers = ["CPUExecutionProvider"]
        if "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        try:
            session = ort.InferenceSession(bytes(artifact), sess_options=options, providers=providers)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises a type per status code
            raise ArtifactError(f"not a loadable ONNX model: {_short(exc)}") from None
        self.model = session
        # onnxruntime falls back to the CPU where CUDA cannot start: ask the session, not the list.
        self.device = "cuda" if session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"

        inputs = session.get_inputs()
        if len(inputs) != 1:
            names = ", ".join(i.name for i in inputs) or "none"
            raise ArtifactError(
                f"an ONNX model must have exactly one input; this one has {len(inputs)} ({names})"
            )
        source = inputs[0]
        if source.type not in _INPUT_TYPES:
            raise ArtifactError(f"ONNX input {source.name!r} is {source.type}; use float32 or float64")
        self._input = source.name
        self._dtype = _INPUT_TYPES[source.type]
        dims = list(source.shape or [])
        self.n_columns, self.input_shape, self._row_shape, self._nchw = _layout(
            source.name, dims, input_shape
        )
        static_batch = dims[0] if dims and _known(dims[0]) else None
        # A model exported with a fixed batch is fed that many rows per call, the last padded.
        self._fixed_batch = static_batch
        self._step = static_batch or max_batch
        self._output = _choose_output(session.get_outputs())
        try:
            probe = self._run(np.zeros((1, self.n_columns)))
        except Exception as exc:  # noqa: BLE001 - any failure here is the graph's
            raise ArtifactError(f"the ONNX model fails to run on one row: {_short(exc)}") from None
        self.n_outputs = int(probe.shape[1])
        if self.n_outputs == 0:
            raise ArtifactError(f"ONNX output {self._output!r} is empty")

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        rows = np.asarray(X, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.n_columns:
            raise ValueError(f"expected rows of shape (n, {self.n_columns}), got {rows.shape}")
        out = np.empty((rows.shape[0], self.n_outputs), dtype=np.float64)
        for start in range(0, rows.shape[0], self._step):
            chunk = rows[start : start + self._step]
            out[start : start + chunk.shape[0]] = self._run(chunk)
        return out

    def _run(self, rows: np.ndarray) -> np.ndarray:
        n = rows.shape[0]
        feed = rows.astype(self._dtype)
        if self._fixed_batch is not None and n < self._fixed_batch:
            feed = np.concatenate([feed, np.zeros((self._fixed_batch - n, self.n_columns), self._dtype)])
        feed = feed.reshape((feed.shape[0], *self._row_shape))
        if self._nchw:
            feed = feed.transpose(0, 3, 1, 2)
        result = self.model.run([self._output], {self._input: np.ascontiguousarray(feed)})[0]
        result = np.asarray(result, dtype=np.float64)
        if result.ndim not in (1, 2) or result.shape[0] != feed.shape[0]:
            raise ValueError(
                f"ONNX output {self._output!r} has shape {result.shape}; expected (n, k) or (n,)"
            )
        return result.reshape(feed.shape[0], -1)[:n]


def _layout(
    name: str, dims: list, input_shape: list[int] | None
) -> tuple[int, tuple[int, ...] | None, tuple[int, ...], bool]:
    """(n_columns, input_shape, the shape one row takes in the model, whether it is NCHW)."""
    shape = tuple(int(n) for n in input_shape) if input_shape else None
    if shape is not None and (not shape or any(n <= 0 for n in shape)):
        raise ArtifactError(f"input_shape {list(shape)} must be positive integers")
    described = "x".join(str(d) if _known(d) else "?" for d in dims)
    if len(dims) == 2:
        width = dims[1]
        if shape is None:
            if not _known(width):
                raise ArtifactError(
                    f"ONNX input {name!r} ({described}) has no fixed width: give the input shape"
                )
            return int(width), None, (int(width),), False
        size = math.prod(shape)
        if _known(width) and width != size:
            raise ArtifactError(f"ONNX input {name!r} ({described}) does not take {size} columns")
        return size, shape, (size,), False
    if len(dims) not in (3, 4):
        raise ArtifactError(
            f"ONNX input {name!r} ({described or 'a scalar'}) must be (batch, columns) or an image batch"
        )
    if shape is None or len(shape) not in (2, 3):
        raise ArtifactError(
            f"ONNX input {name!r} ({described}) is an image: give its input shape as [h, w] or [h, w, c]"
        )
    h, w = shape[:2]
    c = shape[2] if len(shape) == 3 else 1
    size = h * w * c
    if len(dims) == 3 and c == 1 and _fits(dims[1:], (h, w)):
        return size, shape, (h, w), False
    if len(dims) == 4 and _fits(dims[1:], (c, h, w)):
        return size, shape, (h, w, c), True
    if len(dims) == 4 and _fits(dims[1:], (h, w, c)):
        return size, shape, (h, w, c), False
    raise ArtifactError(f"ONNX input {name!r} ({described}) does not take {h}x{w}x{c} images")


def _choose_output(outputs: list) -> str:
    floats = [o for o in outputs if o.type in _FLOAT_OUTPUTS]
    if not floats:
        if any(o.type.startswith("seq(map") for o in outputs):
            raise ArtifactError(
                "the ONNX model's probabilities are a sequence of maps (skl2onnx's ZipMap): "
                'export it with options={"zipmap": False}'
            )
        raise ArtifactError("the ONNX model has no float tensor output (probabilities or a score)")
    if len(floats) > 1:
        named = [o for o in floats if "prob" in o.name.lower()]
        if len(named) != 1:
            names = ", ".join(o.name for o in floats)
            raise ArtifactError(
                f"the ONNX model has several float outputs ({names}); keep only the one to record"
            )
        floats = named
    chosen = floats[0]
    if chosen.shape is not None and len(chosen.shape) not in (1, 2):
        raise ArtifactError(
            f"ONNX output {chosen.name!r} must be (n, k) or (n,), not rank {len(chosen.shape)}"
        )
    return chosen.name


def _known(dim: object) -> bool:
    return isinstance(dim, int) and dim > 0


def _fits(dims: list, expected: tuple[int, ...]) -> bool:
    return all(not _known(d) or d == e for d, e in zip(dims, expected, strict=True))


def _short(exc: Exception) -> str:
    """onnxruntime's message, first line only, without its status prefix, source locations
    and paths: enough to name the problem, nothing about the server."""
    lines = str(exc).strip().splitlines()
    text = _ORT_PREFIX.sub("", lines[0] if lines else "")
    text = _PATH.sub("<path>", _SOURCE_LOCATION.sub("", text)).strip()
    return (text[:200] or type(exc).__name__).rstrip(".")
