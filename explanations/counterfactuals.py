"""Counterfactuals: the smallest changes a person could make that would flip their outcome.

Plain Python over a feature schema and a predict function, so it is testable without a database.
Only features the schema marks `mutable` and not `protected` are ever changed: a person cannot
change their age or their past, and must never be told that a protected attribute would help.

What "flip" means follows the version's output semantics, judged by `decide`: a binary score or a
regression score crossing its threshold (for an unfavourable decision, toward the favourable
side), a multiclass model deciding another class. A version whose scores come from the
controller's own system (framework "external", reasons "supplied") has no model to search.

The search is exhaustive over single changes, then pairs, then triples (a beam over the most
promising pairs), on a candidate grid per feature; every candidate is scored in one batched model
call per stage. What is returned has been re-validated against the schema and re-predicted with
the model, one row at a time, so nothing is shown that the model does not confirm.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from decisions.predictors import decide
from decisions.schema import Feature, FeatureSchema

NUMERIC_GRID = 40  # candidate values per numeric feature with a wide range
PAIR_CANDIDATES = 6  # per feature, the most promising values combined in pairs and triples
TRIPLE_BEAM = 30
DEFAULT_LIMIT = 3
SEARCH_VERSION = 2
NO_MODEL = {
    "status": "not_applicable",
    "items": [],
    "reason": "no model to search: the controller's own system gives the score",
}

PredictProba = Callable[[np.ndarray], np.ndarray]


def has_model_to_search(*, framework: str, explainer: str) -> bool:
    """False for a version whose scores and reasons come from the controller's own system:
    there is no model here to try changed inputs on (find_counterfactuals returns NO_MODEL)."""
    return framework != "external" and explainer != "supplied"


def changeable(schema: FeatureSchema) -> list[Feature]:
    return [f for f in schema.features if f.mutable and not f.protected and f.type != "image"]


def _candidates(feature: Feature, current: Any) -> list[tuple[Any, float]]:
    """(value, cost) for every value this feature may take other than the current one.

    Cost is the change's size: the fraction of the feature's range for numbers, a fixed 0.5 for a
    different category (no category is "nearer" than another).
    """
    if feature.type == "categorical":
        return [(c.value, 0.5) for c in feature.categories if c.value != current]
    low = feature.minimum if feature.minimum is not None else current - abs(current) - 1
    high = feature.maximum if feature.maximum is not None else current + abs(current) + 1
    span = float(high - low) or 1.0
    if feature.integer and high - low <= NUMERIC_GRID:
        values = list(range(int(low), int(high) + 1))
    elif feature.integer:
        values = sorted({int(round(v)) for v in np.linspace(low, high, NUMERIC_GRID + 1)})
    else:
        values = _rounded_grid(float(low), float(high))
    return [(v, abs(v - current) / span) for v in values if v != current]


def _rounded_grid(low: float, high: float) -> list[float]:
    """NUMERIC_GRID steps from low to high, each rounded to one digit finer than the step, so a
    person reads "32.5", not "32.49999999"; the ends round inward to stay in the declared range."""
    step = (high - low) / NUMERIC_GRID
    decimals = max(0, math.ceil(-math.log10(step)) + 1) if step > 0 else 0
    scale = 10.0**decimals
    values = {round(float(v), decimals) for v in np.linspace(low, high, NUMERIC_GRID + 1)[1:-1]}
    values |= {math.ceil(low * scale) / scale, math.floor(high * scale) / scale}
    return sorted(v for v in values if low <= v <= high)


class _Scorer:
    """Scores change sets in one batched model call: each candidate row is the person's encoded
    row with the changed features' columns rewritten in numpy (no per-row encoding), and its
    progress toward a different outcome is measured (whether it flips is judged by `decide`)."""

    def __init__(self, schema: FeatureSchema, predict_proba: PredictProba, output: dict, original: dict):
        self.schema = schema
        self.predict_proba = predict_proba
        self.output = output
        self.original = original
        self.base_row = schema.encode([original])[0]
        original = decide(output, predict_proba(self.base_row[None, :]))[0]
        self.original_outcome, self.original_score = original.outcome, original.score
        self.labels = output["class_labels"]
        self.rows_scored = 1
        self.start = {name: columns[0] for name, columns in schema.groups}

    def _set(self, X: np.ndarray, row: int, name: str, value: Any) -> None:
        feature = self.schema[name]
        start = self.start[name]
        if feature.type == "numeric":
            X[row, start] = value
        else:
            index = next(i for i, c in enumerate(feature.categories) if c.value == value)
            if feature.encoding == "one_hot":
                X[row, start : start + feature.width] = 0.0
                X[row, start + index] = 1.0
            else:
                X[row, start] = index

    def score(self, change_sets: list[tuple]) -> tuple[np.ndarray, list[bool], np.ndarray]:
        """(progress toward flipping, flipped?, model outputs) per change set."""
        if not change_sets:
            return np.zeros(0), [], np.zeros((0, len(self.labels)))
        X = np.repeat(self.base_row[None, :], len(change_sets), axis=0)
        for row, changes in enumerate(change_sets):
            for name, value in changes:
                self._set(X, row, name, value)
        proba = self.predict_proba(X)
        self.rows_scored += len(change_sets)
        outcomes = decide(self.output, proba)
        flipped = [o.outcome != self.original_outcome for o in outcomes]
        return progress_toward_flip(self.output, proba, self.original_outcome), flipped, proba


def progress_toward_flip(output: dict, proba: np.ndarray, original_outcome: str) -> np.ndarray:
    """How far each row's model output has moved toward another outcome than the original one:
    positive once `decide` would give another label. A binary model's probability and a
    regression's score are measured against their threshold, toward the other side (from the
    unfavourable side that is the favourable one); a multiclass model's best other class against
    the original class."""
    labels = output["class_labels"]
    k = labels.index(original_outcome)
    if output["type"] in ("binary", "regression"):
        column = proba[:, 1] if output["type"] == "binary" else proba[:, 0]
        threshold = float(output.get("threshold", 0.5))
        # Label 1 is "at or above the threshold": from label 0 the score must rise, else fall.
        return (column - threshold) * (1.0 if k == 0 else -1.0)
    others = np.delete(proba, k, axis=1)
    return others.max(axis=1) - proba[:, k]


def _apply(original: dict, changes: tuple[tuple[str, Any], ...]) -> dict:
    row = dict(original)
    row.update(dict(changes))
    return row


def find_counterfactuals(
    *,
    schema: FeatureSchema,
    predict_proba: PredictProba | None,
    output: dict,
    features: dict,
    limit: int = DEFAULT_LIMIT,
    max_changes: int = 3,
) -> dict:
    """Search, verify and describe up to `limit` minimal counterfactuals for one decision.

    Returns a JSON document: `status` ("done", "none_found" or "not_applicable"), `items` (each
    with its `changes`, the `outcome` and `score` the model then gives, `verified: true`), and the
    search's parameters, stored as Explanation.counterfactuals. Without a model
    (`predict_proba` None: see has_model_to_search) it is NO_MODEL.
    """
    if predict_proba is None:
        return {**NO_MODEL, "items": []}
    usable = changeable(schema)
    if schema.is_image or not usable:
        return {"status": "not_applicable", "items": [], "reason": "no input the person can change"}
    scorer = _Scorer(schema, predict_proba, output, features)
    by_feature = {f.name: _candidates(f, features[f.name]) for f in usable}
    cost_of = {(name, value): cost for name, values in by_feature.items() for value, cost in values}

    # Stage 1: every single change.
    singles = [((name, value),) for name, values in by_feature.items() for value, _ in values]
    progress, flipped, _ = scorer.score(singles)
    found: list[tuple[tuple, float]] = []
    best_single: dict[str, tuple[tuple, float]] = {}
    for changes, flip in zip(singles, flipped, strict=True):
        if flip:
            name = changes[0][0]
            cost = cost_of[changes[0]]
            if name not in best_single or cost < best_single[name][1]:
                best_single[name] = (changes, cost)
    found.extend(best_single.values())

    # The most promising values of each feature that does not flip the outcome on its own.
    promising: dict[str, list[tuple[str, Any]]] = {}
    for changes, p in zip(singles, progress, strict=True):
        name = changes[0][0]
        if name not in best_single:
            promising.setdefault(name, []).append((p, changes[0]))
    promising = {
        name: [c for _, c in sorted(items, key=lambda item: -item[0])[:PAIR_CANDIDATES]]
        for name, items in promising.items()
    }

    # Stage 2: pairs of such features.
    if len(found) < limit and max_changes >= 2:
        pairs = [
            (a, b)
            for fa, fb in itertools.combinations(sorted(promising), 2)
            for a in promising[fa]
            for b in promising[fb]
        ]
        progress, flipped, _ = scorer.score(pairs)
        pair_flips = [(c, sum(cost_of[x] for x in c)) for c, flip in zip(pairs, flipped, strict=True) if flip]
        found.extend(_cheapest_per_feature_set(pair_flips))

        # Stage 3: extend the pairs that came closest with a third feature.
        if len(found) < limit and max_changes >= 3 and len(pairs):
            flipped_sets = {frozenset(n for n, _ in c) for c, _ in pair_flips}
            order = np.argsort(-progress)
            beam = [pairs[i] for i in order if not flipped[i]][:TRIPLE_BEAM]
            triples = []
            for pair in beam:
                names = {n for n, _ in pair}
                for name in sorted(promising):
                    if name in names or any(s <= names | {name} for s in flipped_sets):
                        continue
                    triples.extend((*pair, extra) for extra in promising[name])
            progress3, flipped3, _ = scorer.score(triples)
            triple_flips = [
                (c, sum(cost_of[x] for x in c)) for c, flip in zip(triples, flipped3, strict=True) if flip
            ]
            found.extend(_cheapest_per_feature_set(triple_flips))

    found = [_shrink(scorer, by_feature, cost_of, changes) for changes, _ in found]
    found.sort(key=lambda item: (len(item[0]), item[1]))
    items = []
    for changes, cost in found:
        if len(items) >= limit:
            break
        verified = _verify(schema, predict_proba, output, features, changes, scorer.original_outcome)
        if verified is not None:
            items.append(_describe(schema, features, changes, cost, verified))
    return {
        "status": "done" if items else "none_found",
        "items": items,
        "original_outcome": scorer.original_outcome,
        "original_score": scorer.original_score,
        "method": "grid search over mutable, unprotected features; verified by the model",
        "search_version": SEARCH_VERSION,
        "rows_scored": scorer.rows_scored,
        "features_considered": [f.name for f in usable],
    }


def _shrink(scorer: _Scorer, by_feature: dict, cost_of: dict, changes: tuple) -> tuple[tuple, float]:
    """Move each numeric change as close to the person's value as it can go while still flipping:
    combinations are found among the most promising (often extreme) values, not the nearest."""
    changes = list(changes)
    for position, (name, value) in enumerate(changes):
        feature = scorer.schema[name]
        if feature.type != "numeric":
            continue
        current = scorer.original[name]
        nearer = [v for v, _ in by_feature[name] if (current < v < value or value < v < current)]
        if not nearer:
            continue
        trials = [tuple(changes[:position] + [(name, v)] + changes[position + 1 :]) for v in nearer]
        _, flipped, _ = scorer.score(trials)
        ok = [v for v, flip in zip(nearer, flipped, strict=True) if flip]
        if ok:
            changes[position] = (name, min(ok, key=lambda v: abs(v - current)))
    result = tuple(changes)
    return result, sum(cost_of[c] for c in result)


def _cheapest_per_feature_set(flips: list[tuple[tuple, float]]) -> list[tuple[tuple, float]]:
    best: dict[frozenset, tuple[tuple, float]] = {}
    for changes, cost in flips:
        key = frozenset(name for name, _ in changes)
        if key not in best or cost < best[key][1]:
            best[key] = (changes, cost)
    return list(best.values())


def _verify(schema, predict_proba, output, features, changes, original_outcome):
    """Re-validate the changed inputs against the schema and re-predict them alone."""
    candidate = _apply(features, changes)
    for name, _ in changes:
        feature = schema[name]
        if not feature.mutable or feature.protected:
            return None
    clean, errors = schema.validate(candidate)
    if errors:
        return None
    result = decide(output, predict_proba(schema.encode([clean])))[0]
    if result.outcome == original_outcome:
        return None
    return result


def _describe(schema: FeatureSchema, features: dict, changes: tuple, cost: float, result) -> dict:
    described = []
    for name, value in sorted(changes, key=lambda c: schema.names.index(c[0])):
        feature = schema[name]
        value = int(value) if feature.integer else (float(value) if feature.type == "numeric" else value)
        described.append(
            {
                "feature": name,
                "label": feature.label,
                "from": features[name],
                "to": value,
                "from_display": feature.display_value(features[name]),
                "to_display": feature.display_value(value),
            }
        )
    return {
        "changes": described,
        "outcome": result.outcome,
        "score": float(result.score),
        "cost": round(float(cost), 6),
        "verified": True,
    }
