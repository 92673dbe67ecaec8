"""A new model version's registration checks, in a process of their own with limits.

Run as `python -m explanations.sandbox DIR` by explanations/vetting.py, never inside a web or
worker process: the artifact is untrusted until these checks pass, and a crafted one may exhaust
memory, loop, or crash native code. DIR holds `request.json` (framework, explainer, schema,
output, input_shape, limits), `artifact` and `background.npy`; the verdict is written to
DIR/result.json as {"passed", "reasons", "report"}. Plain Python, no Django.

The checks: the artifact loads (skops with trusted types only, Keras in safe mode), its input
width is the schema's, the background fits it, its outputs on the background are finite and have
the shape the output semantics name (probabilities in [0, 1] summing to 1 for classifiers), and
20 background rows are explained with the version's method and add up to the model's output.
"""

from __future__ import annotations

import json
import re
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from decisions.predictors import ArtifactError, load_background, load_predictor
from decisions.schema import FeatureSchema, SchemaError

from .engine import ExplanationError
from .explainer_build import (
    ADDITIVITY_TOLERANCE,
    build_explainer,
    output_space_of,
    outputs_to_explain,
    resolve_method,
)

EXPLAINED_ROWS = 20
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:/[\w.\-]+){2,}/?")


def apply_limits(limits: dict) -> None:
    """Address space, CPU seconds and the size of any file written: set by the process on
    itself before it reads the artifact."""
    for name, value in (
        ("RLIMIT_AS", limits.get("memory_bytes")),
        ("RLIMIT_CPU", limits.get("cpu_seconds")),
        ("RLIMIT_FSIZE", limits.get("file_bytes")),
    ):
        if value:
            resource.setrlimit(getattr(resource, name), (int(value), int(value)))


def expected_outputs(output: dict) -> int:
    return 1 if output["type"] == "regression" else len(output["class_labels"])


def check(request: dict, artifact: bytes, background_bytes: bytes) -> dict[str, Any]:
    """Every check in order; the first failure that makes later checks meaningless stops them."""
    started = time.perf_counter()
    output = request["output"]
    report: dict[str, Any] = {}
    try:
        schema = FeatureSchema.from_dict(request["schema"])
        background = load_background(background_bytes)
        predictor = load_predictor(request["framework"], artifact, input_shape=request.get("input_shape"))
    except (ArtifactError, SchemaError) as exc:
        return {"passed": False, "reasons": [f"artifact: {exc}"], "report": report}
    width = len(schema.columns)
    reasons = []
    if predictor.n_columns != width:
        reasons.append(
            f"input width: the model takes {predictor.n_columns} columns, the schema encodes {width}"
        )
    if background.shape[1] != width:
        reasons.append(f"background: has {background.shape[1]} columns, the schema encodes {width}")
    if reasons:
        return {"passed": False, "reasons": reasons, "report": report}

    outputs = predictor.predict_proba(background)
    reasons = _output_reasons(outputs, output)
    report.update({"background_rows": int(background.shape[0]), "n_outputs": int(outputs.shape[1])})
    if reasons:
        return {"passed": False, "reasons": reasons, "report": report}

    method = resolve_method(request.get("explainer", "auto"), predictor, is_image=schema.is_image)
    rows = background[:EXPLAINED_ROWS]
    classes = outputs_to_explain(output, outputs[: len(rows)])
    explainer = build_explainer(method, predictor, background, output=output, threads=1)
    try:
        result = explainer.explain(rows, classes=classes)
    except ExplanationError as exc:
        if method != "deep":
            raise
        # As the worker does (explanations.compute): Deep SHAP met a layer it has no rule for,
        # and the version is explained with Gradient SHAP instead.
        report["deep_failed"] = _first_line(exc)
        method = "gradient"
        explainer = build_explainer(method, predictor, background, output=output, threads=1)
        result = explainer.explain(rows, classes=classes)
    error = result.additivity_error / np.maximum(1.0, np.abs(result.predictions))
    tolerance = ADDITIVITY_TOLERANCE[method]
    report.update(
        {
            "method": method,
            "output_space": result.output_space,
            "expected_output_space": output_space_of(output),
            "rows_explained": int(len(rows)),
            "max_additivity_error": float(np.nanmax(error)) if error.size else 0.0,
            "additivity_tolerance": tolerance,
            "device": result.device,
            "versions": result.versions,
        }
    )
    if not np.isfinite(result.values).all() or not np.isfinite(error).all():
        reasons.append("explanation: the explainer returned non-finite values on the background")
    elif error.max() > tolerance:
        reasons.append(
            f"additivity: base value + contributions differ from the model's output by up to "
            f"{error.max():.3g} on {len(rows)} background rows (tolerance {tolerance:g}); the "
            f"{method} explanation of this model cannot be trusted; register it with another "
            f"explainer (exact up to 12 columns, else permutation)"
        )
    report["seconds"] = round(time.perf_counter() - started, 3)
    return {"passed": not reasons, "reasons": reasons, "report": report}


def _output_reasons(outputs: np.ndarray, output: dict) -> list[str]:
    expected = expected_outputs(output)
    if outputs.ndim != 2 or outputs.shape[1] != expected:
        what = "a single score column" if expected == 1 else f"{expected} class probabilities"
        return [f"output: the model gives {outputs.shape[1:]} per row, the output semantics need {what}"]
    if not np.isfinite(outputs).all():
        return ["output: the model returns NaN or infinity on the background"]
    if output["type"] != "regression":
        if (outputs < -1e-6).any() or (outputs > 1 + 1e-6).any():
            return [
                "output: the model's outputs are not probabilities in [0, 1] (export its probabilities, not logits)"
            ]
        if np.abs(outputs.sum(axis=1) - 1.0).max() > 1e-3:
            return ["output: the model's class probabilities do not sum to 1"]
    return []


def main(argv: list[str]) -> int:
    directory = Path(argv[1])
    request = json.loads((directory / "request.json").read_text())
    apply_limits(request.get("limits", {}))
    try:
        verdict = check(
            request, (directory / "artifact").read_bytes(), (directory / "background.npy").read_bytes()
        )
    except MemoryError:
        verdict = {
            "passed": False,
            "reasons": ["resources: the model needs more memory than the check allows"],
        }
    except Exception as exc:  # noqa: BLE001 - any failure of an untrusted model is a named rejection
        verdict = {"passed": False, "reasons": [f"check failed: {type(exc).__name__}: {_first_line(exc)}"]}
    verdict["reasons"] = [_without_paths(reason) for reason in verdict["reasons"]]
    (directory / "result.json").write_text(json.dumps(verdict, default=str))
    return 0


def _without_paths(text: str) -> str:
    """A reason as the controller sees it: no server path (libraries quote their temp files)."""
    return _PATH.sub("<file>", text)


def _first_line(exc: BaseException) -> str:
    """The exception's message without the library's stack or paths: its first line, short."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text[:300]


if __name__ == "__main__":
    sys.exit(main(sys.argv))
