"""What a decision's request may carry from the controller's side besides the features: an
external scorer's score and its own contributions (which must add up to it), and, for a decision
a person took using the model's output (AI Act Art. 86), that person's outcome. Checked here,
for decisions.recording, which records them."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from config.text import MESSAGE, control_characters

from .models import Decision, ModelVersion

if TYPE_CHECKING:
    from .recording import DecisionInput

# The fields only an external scorer's decision carries: its score and, optionally, its own
# per-feature contributions and base value.
SUPPLIED_FIELDS = ("score", "contributions", "base_value")
# base_value + sum(contributions) must equal the score within this, scaled by max(1, |score|).
SUPPLIED_ADDITIVITY_TOLERANCE = 1e-6
ASSISTED_SHAPE = (
    'an object {"decided_by": "the controller\'s reference of the person", "outcome": "their outcome"}'
)


def text_error(value: Any, *, max_length: int, required: bool) -> str | None:
    if value is None or value == "":
        return "this field is required" if required else None
    if not isinstance(value, str):
        return "must be a string"
    if required and not value.strip():
        return "this field is required"
    if len(value) > max_length:
        return f"at most {max_length} characters"
    if "\x00" in value:
        return "must not contain NUL characters"
    if control_characters(value):  # a reference that rewrites a log line or a terminal
        return MESSAGE
    return None


def assisted_error(assisted: Any) -> str | None:
    if not isinstance(assisted, dict) or set(assisted) != {"decided_by", "outcome"}:
        return f"must be {ASSISTED_SHAPE}"
    return text_error(assisted["decided_by"], max_length=128, required=True) or text_error(
        assisted["outcome"], max_length=64, required=True
    )


def finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def supplied_errors(item: DecisionInput, version: ModelVersion, names: list[str]) -> dict[str, Any]:
    """An external scorer's decision carries its score (and may carry contributions that add up
    to it); a model Rationale runs takes none of these."""
    given = [name for name in SUPPLIED_FIELDS if getattr(item, name) is not None]
    if version.framework != ModelVersion.Framework.EXTERNAL:
        return dict.fromkeys(given, f"only for external scorers; {version} is scored by Rationale")
    if item.score is None:
        return {"score": f"is required: {version} is an external scorer, whose score the request carries"}
    if version.output["type"] == "binary" and not 0 <= item.score <= 1:
        return {"score": "is a probability for a binary external scorer: between 0 and 1"}
    if item.contributions is None:
        return {}
    unknown = sorted(set(item.contributions) - set(names))
    if unknown:
        return {"contributions": f"unknown features {unknown[:5]}; the schema has {names}"}
    total = item.base_value + sum(item.contributions.values())
    if abs(total - item.score) > SUPPLIED_ADDITIVITY_TOLERANCE * max(1.0, abs(item.score)):
        return {
            "contributions": f"base_value + contributions = {total!r}, but score = {item.score!r}: they must add up"
        }
    return {}


def decided(version: ModelVersion, outcome, assisted: dict | None) -> dict:
    """Who decided what: the model, or a person using its output (the model's kept beside)."""
    if assisted is None:
        return {"outcome": outcome.outcome, "favourable": outcome.favourable}
    favourable = version.output.get("favourable_label")
    return {
        "kind": Decision.Kind.ASSISTED,
        "outcome": assisted["outcome"],
        "favourable": None if favourable is None else assisted["outcome"] == favourable,
        "model_outcome": outcome.outcome,
        "decided_by": assisted["decided_by"].strip(),
    }


def supplied_scores(version: ModelVersion, items: list[DecisionInput]) -> np.ndarray:
    """An external scorer's supplied scores, shaped as a model's outputs."""
    score = np.array([float(item.score) for item in items], dtype=np.float64)
    if version.output["type"] == "regression":
        return score[:, None]
    return np.column_stack([1.0 - score, score])
