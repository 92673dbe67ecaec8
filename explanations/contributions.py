"""Per-feature contributions: stored as numbers keyed by feature, read with their labels.

An explanation stores only what the computation produced, ``{"feature name": contribution}``.
Labels, descriptions, mutability and protection belong to the registered schema (immutable per
version) and the person's value belongs to the decision: both are joined in when read. That
keeps each explanation small to write and to export, and retention has nothing to erase here
beyond the decision's own features.

Plain Python: no Django import.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from decisions.schema import Feature, FeatureSchema


def contributions_compact(schema: FeatureSchema, grouped_row: Iterable[float]) -> dict[str, float]:
    """One row of per-feature values (schema order) as the stored mapping."""
    return dict(zip(schema.names, map(float, grouped_row), strict=True))


def contributions_labelled(
    schema: FeatureSchema,
    features: Mapping[str, Any],
    contributions: Mapping[str, float],
    *,
    with_monitored: bool = False,
) -> list[dict]:
    """The stored mapping as a person or an API client reads it, in schema order.

    `features` are the decision's inputs; after retention erased them, value and display_value
    are None while the contributions themselves remain. A monitored feature is not a model
    input and has no contribution: it is left out, or with `with_monitored` listed after the
    inputs with `monitored: True` and `contribution: None` (every row then says `monitored`),
    for a page that shows all the data recorded but must never weigh a monitored attribute.
    """
    out = []
    for feature in schema.inputs:
        if feature.name not in contributions:
            continue
        row = _row(feature, features, float(contributions[feature.name]))
        if with_monitored:
            row["monitored"] = False
        out.append(row)
    if with_monitored:
        out.extend({**_row(feature, features, None), "monitored": True} for feature in schema.monitored)
    return out


def _row(feature: Feature, features: Mapping[str, Any], contribution: float | None) -> dict:
    shown = features.get(feature.name)
    return {
        "feature": feature.name,
        "label": feature.label,
        "value": None if feature.type == "image" else shown,
        "display_value": None if shown is None else feature.display_value(shown),
        "contribution": contribution,
        "mutable": feature.mutable,
        "protected": feature.protected,
    }
