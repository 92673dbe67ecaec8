"""LightGBM boosters saved as text (`Booster.save_model` / `model_to_string`).

LightGBM's text loader trusts its input: a truncated file can abort the process from inside a
parallel parse or read past the end of the text, and a tree whose child or feature indices are
out of range crashes or hangs prediction. A web worker must survive a bad upload, so the text
is checked here first: complete sections, and trees whose indices stay in range and form a tree.
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np

from .base import ArtifactError, Predictor

# Objectives whose prediction is the probability of class 1, given as two columns.
# (The model text names objectives by their canonical names, never by an alias.)
_BINARY_OBJECTIVES: Final = frozenset({"binary", "cross_entropy"})
_PARAMETER_LINE: Final = re.compile(r"\[\w+: [^\n]*\]\Z")
_SAVE_IT = "save it with Booster.save_model or model_to_string"


class LightGBMPredictor(Predictor):
    """A LightGBM booster: class probabilities for binary and multiclass objectives, the
    prediction in one column for every other (regression, ranking, ...) objective.

    LightGBM's prediction is safe to call from several threads on one booster.
    """

    framework = "lightgbm"

    def __init__(self, artifact: bytes):
        import lightgbm

        text = checked_model_text(artifact)
        try:
            booster = lightgbm.Booster(model_str=text)
        except Exception as exc:  # noqa: BLE001 - LightGBMError, or parameters Python cannot read
            raise ArtifactError(f"not a loadable LightGBM model: {_short(exc)}") from None
        self.model = booster
        self.n_columns = booster.num_feature()
        self.objective = objective_of(text)
        self._n_outputs = booster.num_model_per_iteration()

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_columns:
            raise ValueError(f"expected rows of {self.n_columns} columns, got an array of shape {X.shape}")
        # One thread per call: a web worker predicts one row at a time and parallelism only
        # adds overhead there; workers batch and get their speed from that.
        p = np.asarray(self.model.predict(X, num_threads=1), dtype=np.float64)
        if self.objective in _BINARY_OBJECTIVES and self._n_outputs == 1:
            both = np.empty((p.shape[0], 2))
            np.subtract(1.0, p, out=both[:, 0])
            both[:, 1] = p
            return both
        return p.reshape(X.shape[0], -1)


def _short(exc: Exception) -> str:
    """LightGBM's message without the source path and line its checks name."""
    message = re.sub(r" at \S+, line \d+\s*\.?", "", str(exc).strip().split("\n")[0])[:200]
    return message if message and "/" not in message and "\\" not in message else type(exc).__name__


def objective_of(text: str) -> str:
    """The objective's name from a model text's header ("custom" when it names none)."""
    for line in text.splitlines():
        if line.startswith("objective="):
            return line.partition("=")[2].split(" ")[0].strip() or "custom"
        if line.startswith("Tree="):
            break
    return "custom"


def checked_model_text(artifact: bytes) -> str:
    """The model text, once its structure is checked, without its `tree_sizes` line: without
    it LightGBM parses the trees one after another, where a malformed tree raises an error
    instead of aborting the process from a parallel loop."""
    try:
        text = artifact.decode("utf-8")
    except UnicodeDecodeError:
        raise ArtifactError(f"not a LightGBM text model: it is not UTF-8 text; {_SAVE_IT}") from None
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if not lines or lines[0] != "tree":
        raise ArtifactError(
            f"not a LightGBM text model: it does not begin with LightGBM's header; {_SAVE_IT}"
        )
    if "end of trees" not in lines:
        raise ArtifactError("the LightGBM model is incomplete: it has no 'end of trees' line")
    end = lines.index("end of trees")
    markers = ("end of trees", "parameters:", "end of parameters")
    if any(lines.count(marker) > 1 for marker in markers) or not all(
        not line or "=" in line for line in lines[1:end]
    ):
        raise ArtifactError("the LightGBM model is malformed: its sections are out of order")
    if "parameters:" in lines[end:]:
        first = lines.index("parameters:", end) + 1
        if "end of parameters" not in lines[first:]:
            raise ArtifactError("the LightGBM model is incomplete: its parameters section does not end")
        # LightGBM splits each line at ": " without checking that it is there.
        if not all(
            not line or _PARAMETER_LINE.match(line)
            for line in lines[first : lines.index("end of parameters", first)]
        ):
            raise ArtifactError(
                "the LightGBM model is malformed: a line of its parameters section is not [name: value]"
            )
    starts = [i for i in range(end) if lines[i].startswith("Tree=")]
    header = _fields(lines[: starts[0] if starts else end])
    try:
        n_features = int(header["max_feature_idx"]) + 1
        problems = [
            _tree_problem(_fields(lines[first + 1 : last]), n_features)
            for first, last in zip(starts, [*starts[1:], end], strict=True)
        ]
    except KeyError as exc:
        raise ArtifactError(f"the LightGBM model is malformed: it has no {exc.args[0]} field") from None
    except ValueError as exc:
        raise ArtifactError(f"the LightGBM model is malformed: {exc}") from None
    sizes = header.get("tree_sizes")
    if sizes is not None and len(sizes.split()) != len(starts):
        raise ArtifactError(f"the LightGBM model lists {len(sizes.split())} trees but holds {len(starts)}")
    for number, problem in enumerate(problems):
        if problem:
            raise ArtifactError(f"tree {number} of the LightGBM model is malformed: {problem}")
    return "\n".join(line for line in lines if not line.startswith("tree_sizes="))


def _fields(lines: list[str]) -> dict[str, str]:
    return dict(line.split("=", 1) for line in lines if "=" in line)


def _ints(fields: dict[str, str], key: str, count: int) -> list[int]:
    values = [int(v) for v in fields[key].split()]
    if len(values) != count:
        raise ValueError(f"{key} has {len(values)} values, not {count}")
    return values


def _tree_problem(fields: dict[str, str], n_features: int) -> str | None:
    """Why LightGBM could not safely predict with this tree, or None."""
    n_leaves = int(fields["num_leaves"])
    if n_leaves < 1:
        return "it has no leaves"
    if fields.get("is_linear", "0") != "0":
        return "linear trees (linear_tree=true) are not supported"
    if n_leaves == 1:
        return None
    n_nodes = n_leaves - 1
    if any(not 0 <= f < n_features for f in _ints(fields, "split_feature", n_nodes)):
        return "a split uses a column the model does not have"
    children = _ints(fields, "left_child", n_nodes) + _ints(fields, "right_child", n_nodes)
    # Each node but the root, and each leaf (~index), must be the child of exactly one node:
    # then every path from the root ends at a leaf.
    if sorted(c for c in children if c >= 0) != list(range(1, n_nodes)):
        return "its nodes do not form a tree"
    if sorted(~c for c in children if c < 0) != list(range(n_leaves)):
        return "its leaves do not match num_leaves"
    decision_types = _ints(fields, "decision_type", n_nodes)
    if any(not 0 <= d < 16 for d in decision_types):
        return "a split has an unknown decision type"
    n_categorical = int(fields.get("num_cat", "0"))
    thresholds = [float(t) for t in fields["threshold"].split()]
    if len(thresholds) != n_nodes:
        return "threshold does not have one value per split"
    for kind, threshold in zip(decision_types, thresholds, strict=True):
        if kind & 1 and not (threshold.is_integer() and 0 <= threshold < n_categorical):
            return "a categorical split points outside its category sets"
    if n_categorical > 0:
        bounds = _ints(fields, "cat_boundaries", n_categorical + 1)
        n_words = len(fields.get("cat_threshold", "").split())
        if (
            bounds[0] != 0
            or bounds[-1] != n_words
            or any(a > b for a, b in zip(bounds, bounds[1:], strict=False))
        ):
            return "its category sets are inconsistent"
    return None
