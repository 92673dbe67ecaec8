"""What a person reads of a model version, in their language: its schema's labels,
descriptions, units and category labels, and the controller's texts, each falling back to the
default (the text registered without a language) field by field. Plain Python.

A feature carries ``"translations": {"de": {"label": "...", "description": "...", "unit":
"...", "categories": {"own": "..."}}}`` (a unit only on a numeric feature, category labels only
on a categorical one); a version's texts carry ``"translations": {"de": {"purpose": "..."}}``
beside the default texts. A missing or empty translation reads as the default.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

# What the data subject is told (GDPR Art. 13(2)(f), 14(2)(g), 15(1)(h)).
TEXT_FIELDS = ("controller", "purpose", "significance", "consequences", "legal_basis", "contact")
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
_FEATURE_FIELDS = {
    "numeric": ("label", "description", "unit"),
    "categorical": ("label", "description", "categories"),
    "image": ("label", "description"),
}


def language_keys(language: str | None) -> tuple[str, ...]:
    """Where to look for `language`'s translation: "de-at" in "de-at", then in "de"."""
    if not language:
        return ()
    language = language.lower().replace("_", "-")
    primary = language.split("-")[0]
    return (language,) if primary == language else (language, primary)


def _chosen(translations: dict, language: str | None) -> dict:
    for key in language_keys(language):
        if key in translations:
            return translations[key]
    return {}


def _languages(where: str, translations: Any) -> dict:
    if not isinstance(translations, dict):
        raise ValueError(f"{where}: 'translations' must map a language code to its texts")
    for language, texts in translations.items():
        if not isinstance(language, str) or not _LANGUAGE_CODE.match(language):
            raise ValueError(f"{where}: {language!r} is not a language code such as 'de' or 'de-at'")
        if not isinstance(texts, dict):
            raise ValueError(f"{where}: translations[{language!r}] must be an object")
    return translations


def _text(where: str, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: the translation of {key!r} must be a text")
    return value


# ---------------------------------------------------------------------------- schema
def feature_translated(feature: Any, translations: Any) -> Any:
    """`feature` (a schema.Feature) with its checked `translations`; ValueError naming an unknown
    language code, field or category."""
    if translations is None:
        return feature
    out: dict[str, dict] = {}
    allowed = _FEATURE_FIELDS[feature.type]
    values = {c.value for c in feature.categories}
    for language, texts in _languages(feature.name, translations).items():
        where = f"{feature.name}: translations[{language!r}]"
        checked: dict[str, Any] = {}
        for key, value in texts.items():
            if key not in allowed:
                raise ValueError(
                    f"{where}: {key!r} cannot be translated; a {feature.type} feature's are {', '.join(allowed)}"
                )
            if key != "categories":
                checked[key] = _text(where, key, value)
                continue
            if not isinstance(value, dict):
                raise ValueError(f"{where}: 'categories' must map a category's value to its label")
            unknown = sorted(set(value) - values)
            if unknown:
                raise ValueError(f"{where}: unknown categories {', '.join(map(repr, unknown))}")
            checked[key] = {v: _text(where, f"categories.{v}", label) for v, label in value.items()}
        out[language] = checked
    return dataclasses.replace(feature, translations=out)


def feature_localised(feature: Any, language: str | None) -> Any:
    """`feature` as read in `language`: each translated field in place of the default."""
    texts = _chosen(feature.translations, language)
    if not texts:
        return feature
    labels = texts.get("categories", {})
    return dataclasses.replace(
        feature,
        label=texts.get("label") or feature.label,
        description=texts.get("description") or feature.description,
        unit=texts.get("unit") or feature.unit,
        categories=tuple(
            dataclasses.replace(c, label=labels.get(c.value) or c.label) for c in feature.categories
        ),
    )


def schema_localised(schema: Any, language: str | None) -> Any:
    """A FeatureSchema as read in `language`; the schema itself when nothing is translated."""
    features = tuple(feature_localised(f, language) for f in schema.features)
    if all(a is b for a, b in zip(features, schema.features, strict=True)):
        return schema
    localised = type(schema)(features=features)
    localised._index.update({f.name: f for f in features})
    return localised


# ---------------------------------------------------------------------------- texts
def text_translations_checked(translations: Any) -> dict:
    """A version's `texts["translations"]`, checked; ValueError naming an unknown text."""
    if translations is None:
        return {}
    for language, texts in _languages("texts", translations).items():
        for key, value in texts.items():
            if key not in TEXT_FIELDS:
                raise ValueError(
                    f"texts: translations[{language!r}]: unknown text {key!r}; the texts are {', '.join(TEXT_FIELDS)}"
                )
            _text(f"texts: translations[{language!r}]", key, value)
    return {language: dict(texts) for language, texts in translations.items()}


def version_texts(version: Any, language: str | None) -> dict[str, str]:
    """The controller's texts of a ModelVersion in `language`, each falling back to the default."""
    chosen = _chosen(version.text_translations or {}, language)
    return {name: chosen.get(name) or getattr(version, name) for name in TEXT_FIELDS}


# ---------------------------------------------------------------------------- completeness
def missing_translations(schema: Any, version: Any, language: str) -> list[str]:
    """Every label, description, unit, category label and text of a version that has a default
    but no translation into `language` (exactly that code)."""
    missing = []
    for f in schema.features:
        texts = f.translations.get(language, {})
        for key in _FEATURE_FIELDS[f.type]:
            if key == "categories":
                labels = texts.get("categories", {})
                missing += [
                    f"{f.name}: category {c.value!r}" for c in f.categories if not labels.get(c.value)
                ]
            elif getattr(f, key) and not texts.get(key):
                missing.append(f"{f.name}: {key}")
    texts = (version.text_translations or {}).get(language, {})
    missing += [f"text: {name}" for name in TEXT_FIELDS if getattr(version, name) and not texts.get(name)]
    return missing
