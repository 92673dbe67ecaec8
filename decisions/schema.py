"""Feature schemas: what a model version takes as input, how it is encoded, how to explain it.

Plain Python with no Django import, so the demo trainers, the explanation engine and the tests
share the exact encoding the model was trained on.

A schema is a JSON document::

    {"features": [
        {"name": "duration_months", "label": "Loan duration", "description": "...",
         "type": "numeric", "minimum": 4, "maximum": 72, "unit": "months", "integer": true,
         "mutable": true, "protected": false},
        {"name": "housing", "label": "Housing", "type": "categorical",
         "categories": [{"value": "own", "label": "Owns their home"}, ...],
         "encoding": "one_hot", "mutable": false, "protected": false},
        {"name": "image", "label": "Scanned digit", "type": "image", "shape": [8, 8],
         "minimum": 0, "maximum": 16, "mutable": false, "protected": false},
        {"name": "age_years", "label": "Age", "type": "numeric", "minimum": 18,
         "protected": true, "monitored": true}
    ]}

An image's shape is [h, w], [h, w, 1] or [h, w, 3] (``channels``: "RGB" or "BGR"); see
image_features.py.

A feature marked ``monitored`` is recorded with each decision for the fairness views only: it is
validated and stored like any other, but it is not a model input, so it has no column, no
contribution, and is never a reason or a counterfactual. It must be protected (the fairness views
group only by protected features; anything else would be personal data kept for nothing) and
numeric or categorical.

Model columns follow the model's inputs (the features not monitored) in order: a numeric feature
is one column; a categorical feature is one column per category (``encoding: one_hot``, columns
named ``name=value``) or one column holding the category's index (``encoding: ordinal``); an
image is its pixels, row-major, flattened in (h, w, c) order (``name[i]``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from .feature_values import clean_value, is_number
from .image_features import image_declaration, image_fields
from .translations import feature_translated, schema_localised

FEATURE_TYPES = ("numeric", "categorical", "image")
CATEGORICAL_ENCODINGS = ("one_hot", "ordinal")


class SchemaError(ValueError):
    """The schema document itself is malformed (raised when registering a model)."""


@dataclass(frozen=True)
class Category:
    value: str
    label: str


@dataclass(frozen=True)
class Feature:
    name: str
    label: str
    type: str
    description: str = ""
    mutable: bool = False
    protected: bool = False
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    integer: bool = False
    categories: tuple[Category, ...] = ()
    encoding: str = ""
    shape: tuple[int, ...] = ()
    channels: str = ""  # a colour image's channel order, "RGB" or "BGR"
    monitored: bool = False  # recorded for the fairness views only, never a model input
    translations: dict = field(default_factory=dict, hash=False)  # {language: {field: text}}

    @property
    def width(self) -> int:
        """Number of model columns this feature occupies."""
        if self.type == "categorical":
            return len(self.categories) if self.encoding == "one_hot" else 1
        if self.type == "image":
            return math.prod(self.shape)
        return 1

    def category_label(self, value: Any) -> str:
        for category in self.categories:
            if category.value == value:
                return category.label
        return str(value)

    def display_value(self, value: Any) -> str:
        """The subject's value as a person reads it: a category's label, a number with its unit."""
        if self.type == "categorical":
            return self.category_label(value)
        if self.type == "image":
            return "image " + "x".join(str(n) for n in self.shape)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return f"{value} {self.unit}".strip()


@dataclass(frozen=True)
class FeatureSchema:
    features: tuple[Feature, ...]
    _index: dict[str, Feature] = field(default_factory=dict, compare=False, repr=False)

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_dict(cls, document: Any) -> FeatureSchema:
        """Parse and check a schema document; raise SchemaError naming what is wrong."""
        if not isinstance(document, dict) or not isinstance(document.get("features"), list):
            raise SchemaError("schema must be an object with a list of 'features'")
        if not document["features"]:
            raise SchemaError("schema must declare at least one feature")
        features: list[Feature] = []
        seen: set[str] = set()
        for position, raw in enumerate(document["features"]):
            where = f"features[{position}]"
            if not isinstance(raw, dict):
                raise SchemaError(f"{where}: must be an object")
            name = raw.get("name")
            if not isinstance(name, str) or not name.isidentifier():
                raise SchemaError(f"{where}: 'name' must be an identifier, got {name!r}")
            if name in seen:
                raise SchemaError(f"{where}: duplicate feature name {name!r}")
            seen.add(name)
            kind = raw.get("type")
            if kind not in FEATURE_TYPES:
                raise SchemaError(f"{name}: 'type' must be one of {', '.join(FEATURE_TYPES)}")
            label = raw.get("label") or name.replace("_", " ").capitalize()
            common = dict(
                name=name,
                label=str(label),
                type=kind,
                description=str(raw.get("description", "")),
                mutable=bool(raw.get("mutable", False)),
                protected=bool(raw.get("protected", False)),
                monitored=_monitored(name, kind, raw),
            )
            if kind == "numeric":
                minimum, maximum = raw.get("minimum"), raw.get("maximum")
                for bound_name, bound in (("minimum", minimum), ("maximum", maximum)):
                    if bound is not None and not is_number(bound):
                        raise SchemaError(f"{name}: '{bound_name}' must be a number")
                if minimum is not None and maximum is not None and minimum > maximum:
                    raise SchemaError(f"{name}: minimum is greater than maximum")
                features.append(
                    Feature(
                        **common,
                        minimum=minimum,
                        maximum=maximum,
                        unit=str(raw.get("unit", "")),
                        integer=bool(raw.get("integer", False)),
                    )
                )
            elif kind == "categorical":
                raw_categories = raw.get("categories")
                if not isinstance(raw_categories, list) or not raw_categories:
                    raise SchemaError(f"{name}: categorical feature needs a list of 'categories'")
                categories = []
                for item in raw_categories:
                    if isinstance(item, str):
                        item = {"value": item, "label": item}
                    if not isinstance(item, dict) or not isinstance(item.get("value"), str):
                        raise SchemaError(f"{name}: each category needs a string 'value'")
                    categories.append(
                        Category(value=item["value"], label=str(item.get("label", item["value"])))
                    )
                if len({c.value for c in categories}) != len(categories):
                    raise SchemaError(f"{name}: duplicate category values")
                encoding = raw.get("encoding", "one_hot")
                if encoding not in CATEGORICAL_ENCODINGS:
                    raise SchemaError(f"{name}: 'encoding' must be one of {', '.join(CATEGORICAL_ENCODINGS)}")
                features.append(Feature(**common, categories=tuple(categories), encoding=encoding))
            else:
                try:
                    features.append(Feature(**common, **image_fields(name, raw)))
                except ValueError as exc:
                    raise SchemaError(str(exc)) from None
        if all(f.monitored for f in features):
            raise SchemaError("schema must declare at least one model input (a feature not monitored)")
        try:  # translations.py says what a feature's "translations" may hold
            pairs = zip(features, document["features"], strict=True)
            features = [feature_translated(f, raw.get("translations")) for f, raw in pairs]
        except ValueError as exc:
            raise SchemaError(str(exc)) from None
        schema = cls(features=tuple(features))
        schema._index.update({f.name: f for f in features})
        return schema

    def to_dict(self) -> dict:
        out = []
        for f in self.features:
            item: dict[str, Any] = {
                "name": f.name,
                "label": f.label,
                "description": f.description,
                "type": f.type,
                "mutable": f.mutable,
                "protected": f.protected,
            }
            if f.monitored:
                item["monitored"] = True
            if f.type == "numeric":
                item.update(minimum=f.minimum, maximum=f.maximum, unit=f.unit, integer=f.integer)
            elif f.type == "categorical":
                item["encoding"] = f.encoding
                item["categories"] = [{"value": c.value, "label": c.label} for c in f.categories]
            else:
                item.update(image_declaration(f))
            if f.translations:
                item["translations"] = f.translations
            out.append(item)
        return {"features": out}

    def localised(self, language: str | None) -> FeatureSchema:
        """This schema as read in `language`, each field translated or else the default."""
        return schema_localised(self, language)

    # ----------------------------------------------------------------- lookups
    def __getitem__(self, name: str) -> Feature:
        """Any declared feature, model input or monitored."""
        return self._index[name]

    @cached_property
    def inputs(self) -> tuple[Feature, ...]:
        """The features the model takes, in column order. `features` also holds the monitored
        ones: a decision sends, and the ledger keeps, every feature."""
        return tuple(f for f in self.features if not f.monitored)

    @cached_property
    def monitored(self) -> tuple[Feature, ...]:
        """The features recorded for the fairness views only."""
        return tuple(f for f in self.features if f.monitored)

    @property
    def names(self) -> list[str]:
        """The model inputs' names: one contribution each in an explanation."""
        return [f.name for f in self.inputs]

    @property
    def columns(self) -> list[str]:
        """Model input columns, in order."""
        out: list[str] = []
        for f in self.inputs:
            if f.type == "categorical" and f.encoding == "one_hot":
                out.extend(f"{f.name}={c.value}" for c in f.categories)
            elif f.type == "image":
                out.extend(f"{f.name}[{i}]" for i in range(f.width))
            else:
                out.append(f.name)
        return out

    @property
    def groups(self) -> list[tuple[str, list[int]]]:
        """(feature name, its column indices): how to report attributions per original feature."""
        out, start = [], 0
        for f in self.inputs:
            out.append((f.name, list(range(start, start + f.width))))
            start += f.width
        return out

    @property
    def is_image(self) -> bool:
        return any(f.type == "image" for f in self.inputs)

    # ----------------------------------------------------------------- validation
    def validate(self, features: Any) -> tuple[dict[str, Any], dict[str, str]]:
        """Check a decision's features; return (clean values, {field: error}).

        Every bad field gets its own message; unknown fields are errors too, so a typo in an
        integration cannot silently drop an input.
        """
        if not isinstance(features, dict):
            return {}, {"features": "must be an object mapping feature names to values"}
        clean: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name in features:
            if name not in self._index:
                errors[name] = "unknown feature for this model version"
        for f in self.features:
            if f.name not in features or features[f.name] is None:
                errors[f.name] = "this field is required"
                continue
            value = features[f.name]
            try:
                clean[f.name] = clean_value(f, value)
            except ValueError as exc:
                errors[f.name] = str(exc)
        return clean, errors

    # ----------------------------------------------------------------- encoding
    @cached_property
    def width(self) -> int:
        """Number of model columns."""
        return sum(f.width for f in self.inputs)

    @cached_property
    def _encoders(self) -> tuple[tuple[str, int, str, Any], ...]:
        """Per feature: (name, first column, how it is encoded, its category positions or width)."""
        out, start = [], 0
        for f in self.inputs:
            if f.type == "categorical":
                out.append((f.name, start, f.encoding, {c.value: i for i, c in enumerate(f.categories)}))
            else:
                out.append((f.name, start, f.type, f.width))
            start += f.width
        return tuple(out)

    def encode(self, rows: list[dict[str, Any]]) -> np.ndarray:
        """Encode validated feature dicts into the model's float matrix (n_rows, n_columns);
        monitored features are left out."""
        if len(rows) <= _ROW_BY_ROW_MAX:
            return self._encode_few(rows)
        matrix = np.zeros((len(rows), self.width), dtype=np.float64)
        for name, start, how, extra in self._encoders:
            values = [row[name] for row in rows]
            if how == "numeric":
                matrix[:, start] = values
            elif how in ("one_hot", "ordinal"):
                index = np.fromiter((extra[v] for v in values), dtype=np.int64, count=len(values))
                if how == "one_hot":
                    matrix[np.arange(len(rows)), start + index] = 1.0
                else:
                    matrix[:, start] = index
            else:  # an image's pixels, row-major
                matrix[:, start : start + extra] = np.asarray(values, dtype=np.float64).reshape(
                    len(rows), extra
                )
        return matrix

    def _encode_few(self, rows: list[dict[str, Any]]) -> np.ndarray:
        """`encode` for a few rows: one flat list, converted once. A recorded decision encodes
        one row, for which numpy's per-feature assignments cost many times what the row itself
        does; from a few dozen rows on they are the cheaper way."""
        width = self.width
        flat: list[Any] = [0.0] * (len(rows) * width)
        base = 0
        for row in rows:
            for name, start, how, extra in self._encoders:
                value = row[name]
                at = base + start
                if how == "numeric":
                    flat[at] = value
                elif how == "one_hot":
                    flat[at + extra[value]] = 1.0
                elif how == "ordinal":
                    flat[at] = extra[value]
                else:  # an image's pixels, row-major
                    if len(value) != extra:  # nested rows rather than the flat list validation makes
                        value = np.asarray(value, dtype=np.float64).reshape(-1).tolist()
                    flat[at : at + extra] = value
            base += width
        return np.array(flat, dtype=np.float64).reshape(len(rows), width)

    def decode_row(self, row: np.ndarray) -> dict[str, Any]:
        """Inverse of encode for one row (used by counterfactual search): the model inputs."""
        out: dict[str, Any] = {}
        start = 0
        for f in self.inputs:
            block = row[start : start + f.width]
            if f.type == "numeric":
                value = float(block[0])
                out[f.name] = int(round(value)) if f.integer else value
            elif f.type == "categorical":
                index = int(np.argmax(block)) if f.encoding == "one_hot" else int(block[0])
                out[f.name] = f.categories[index].value
            else:
                out[f.name] = block.reshape(f.shape).tolist()
            start += f.width
        return out


def _monitored(name: str, kind: str, raw: dict) -> bool:
    """A feature's `monitored` flag, checked: only a protected numeric or categorical feature may
    be monitored, since the fairness views are its only use."""
    monitored = raw.get("monitored", False)
    if not isinstance(monitored, bool):
        raise SchemaError(f"{name}: 'monitored' must be true or false")
    if monitored and not raw.get("protected", False):
        raise SchemaError(
            f"{name}: a monitored feature must be protected: it is kept only for the fairness "
            "views, which group decisions by protected features"
        )
    if monitored and kind == "image":
        raise SchemaError(f"{name}: an image cannot be monitored; only numeric and categorical features can")
    return monitored


# Up to this many rows, FeatureSchema.encode fills a list row by row; beyond, numpy column by column.
_ROW_BY_ROW_MAX = 32
