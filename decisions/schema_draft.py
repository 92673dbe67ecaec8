"""A first feature schema and output semantics drafted from a CSV of training data, for the
controller to edit before registering a model (`manage.py draft_schema`). Plain Python.

The draft is only a start: bounds and categories are the sample's, labels are the column names,
every feature is immutable until someone decides otherwise, and what a column *means* (is it an id,
a protected characteristic, a date to engineer) is guessed from its name and values. Every guess
that needs a person comes back as a warning naming the column.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .schema import FeatureSchema

MAX_MEGABYTES = 200
MAX_ROWS = 100_000
MAX_CATEGORIES = 20
MAX_CLASSES = 20

# Names whose tokens suggest a characteristic that GDPR Art. 9 or anti-discrimination law protects.
_PROTECTED_TOKENS = frozenset({"age", "aged", "race", "racial", "dob", "caste", "health"})
_PROTECTED_PREFIXES = (
    "sex",
    "gender",
    "ethnic",
    "relig",
    "nationalit",
    "foreign",
    "marital",
    "marri",
    "spouse",
    "disab",
    "pregnan",
    "maternit",
    "citizen",
    "politic",
    "belief",
)
_ID_TOKENS = frozenset({"id", "ids", "uuid", "guid", "identifier", "ref", "reference"})
_DATE = re.compile(r"^\s*(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4})([ T]\S.*)?\s*$")
_MISSING_ADVICE = (
    "the schema has no missing values (every decision must send one): impute them in training "
    "and in the integration alike, drop those rows, or drop the column"
)
_PROTECTED_ADVICE = (
    "drafted protected: true, mutable: false. Decide whether it may be an input at all: GDPR Art. 9 "
    "forbids special categories (racial or ethnic origin, religion, health...) without an Art. 9(2) "
    "exception, and anti-discrimination law (sex, age, nationality...) may forbid deciding on it; if "
    "it stays, the fairness figures are grouped by it"
)


class DraftError(ValueError):
    """The CSV cannot be drafted from: the message says why, for the person running the command."""


@dataclass(frozen=True)
class Draft:
    schema: dict
    output: dict | None
    warnings: tuple[str, ...]
    rows: int


def draft_from_csv(
    path: str | Path,
    *,
    target: str,
    max_categories: int = MAX_CATEGORIES,
    max_rows: int = MAX_ROWS,
    max_megabytes: float = MAX_MEGABYTES,
    round_bounds: bool = False,
    with_output: bool = False,
    delimiter: str = ",",
) -> Draft:
    """Read at most `max_rows` rows of the CSV at `path` and draft from them (`draft_from_frame`)."""
    frame, notes = read_csv(path, max_rows=max_rows, max_megabytes=max_megabytes, delimiter=delimiter)
    draft = draft_from_frame(
        frame,
        target=target,
        max_categories=max_categories,
        round_bounds=round_bounds,
        with_output=with_output,
    )
    return Draft(draft.schema, draft.output, tuple(notes) + draft.warnings, draft.rows)


def read_csv(
    path: str | Path, *, max_rows: int, max_megabytes: float, delimiter: str = ","
) -> tuple[Any, list[str]]:
    """The CSV's first `max_rows` rows as a DataFrame with pandas' dtype inference, and a note if
    there were more. Refuses files over `max_megabytes` rather than reading them."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DraftError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    size = path.stat().st_size
    if size > max_megabytes * 1_000_000:
        raise DraftError(
            f"{path}: {size / 1_000_000:.1f} MB, over the {max_megabytes:g} MB limit; draft from a "
            f"sample instead (e.g. head -n {max_rows + 1} {path.name} > sample.csv)"
        )
    if size == 0:
        raise DraftError(f"{path}: the file is empty")
    try:
        frame = pd.read_csv(path, nrows=max_rows + 1, sep=delimiter, low_memory=False)
    except pd.errors.EmptyDataError:
        raise DraftError(f"{path}: no columns found (is it a CSV?)") from None
    except UnicodeDecodeError:
        raise DraftError(f"{path}: not UTF-8 text; convert it (e.g. iconv -f latin1 -t utf-8)") from None
    except (pd.errors.ParserError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DraftError(f"{path}: not a readable CSV: {first_line}") from None
    except OSError as exc:
        raise DraftError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    notes = []
    if len(frame) > max_rows:
        frame = frame.iloc[:max_rows]
        notes.append(
            f"only the first {max_rows} rows were read: bounds and categories come from them; check "
            "them against the full data (or raise --max-rows)"
        )
    if frame.empty:
        raise DraftError(f"{path}: a header but no rows")
    return frame, notes


def draft_from_frame(
    frame: Any,
    *,
    target: str,
    max_categories: int = MAX_CATEGORIES,
    round_bounds: bool = False,
    with_output: bool = False,
) -> Draft:
    """Draft a schema from every column but `target`, and the output semantics from `target`."""
    columns = [str(c) for c in frame.columns]
    if target not in columns:
        shown = ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
        raise DraftError(f"target {target!r} is not a column of the CSV (its columns: {shown})")
    if frame.empty:
        raise DraftError("the CSV has no rows")
    warnings: list[str] = []
    features: list[dict] = []
    taken: set[str] = set()
    renamed: list[str] = []
    for column in frame.columns:
        if str(column) == target:
            continue
        feature = _draft_column(str(column), frame[column], max_categories, round_bounds, warnings)
        if feature is None:
            continue
        feature["name"] = _unique(feature["name"], taken)
        if feature["name"] != str(column):
            renamed.append(f"{str(column)!r} as {feature['name']}")
        features.append(feature)
    if not features:
        raise DraftError("no column could be drafted as a feature: " + "; ".join(warnings))
    if renamed:
        shown = ", ".join(renamed[:5]) + (f" and {len(renamed) - 5} more" if len(renamed) > 5 else "")
        warnings.append(f"renamed to identifiers (the names a decision sends): {shown}")
    warnings.append(
        "every feature is drafted mutable: false; set mutable: true on those a person can "
        "change (counterfactuals only ever suggest changing those)"
    )
    schema = {"features": features}
    FeatureSchema.from_dict(schema)  # the draft must register as written
    output = _draft_output(target, frame[target], warnings) if with_output else None
    return Draft(schema, output, tuple(warnings), len(frame))


def _draft_column(
    column: str, series: Any, max_categories: int, round_bounds: bool, warnings: list[str]
) -> dict | None:
    import pandas as pd

    where = f"column {column!r}"
    values = series.dropna()
    if values.empty:
        warnings.append(f"{where}: skipped, it has no values")
        return None
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    skip = _skip_reason(column, values, numeric, max_categories)
    if skip:
        warnings.append(f"{where}: skipped, {skip}")
        return None
    missing = int(series.isna().sum())
    if missing:
        share = 100 * missing / len(series)
        advice = _MISSING_ADVICE if numeric else _MISSING_ADVICE + ", or give them a category of their own"
        warnings.append(f"{where}: {missing} of {len(series)} rows ({share:.1f}%) are empty; {advice}")
    protected = looks_protected(column)
    if protected:
        warnings.append(f"{where}: looks like a protected characteristic; {_PROTECTED_ADVICE}")
    item = {"name": feature_name(column), "label": humanise(column), "description": ""}
    if numeric:
        finite = values[values.map(lambda v: math.isfinite(v))]
        if len(finite) < len(values):
            warnings.append(f"{where}: {len(values) - len(finite)} infinite values; bounds ignore them")
        if finite.empty:
            warnings.append(f"{where}: skipped, no finite values")
            return None
        integer = bool((finite % 1 == 0).all())
        minimum, maximum = float(finite.min()), float(finite.max())
        if minimum == maximum:
            warnings.append(f"{where}: always {minimum:g} in the sample, so it tells the model nothing")
        if round_bounds:
            minimum, maximum = round_outward(minimum, maximum, integer)
        if integer:
            minimum, maximum = int(minimum), int(maximum)
        item.update(type="numeric", minimum=minimum, maximum=maximum, unit="", integer=integer)
    else:
        counts = values.map(category_value).value_counts()
        ordered = sorted(((str(v), int(n)) for v, n in counts.items()), key=lambda kv: (-kv[1], kv[0]))
        item.update(
            type="categorical",
            encoding="one_hot",
            categories=[{"value": value, "label": value} for value, _ in ordered],
        )
    item.update(mutable=False, protected=protected)
    return item


def _skip_reason(column: str, values: Any, numeric: bool, max_categories: int) -> str:
    """Why a column cannot be a feature as it stands, or "" if it can."""
    distinct = values.nunique()
    all_unique = distinct == len(values) and len(values) > 1
    if _tokens(column) & _ID_TOKENS:
        return (
            "its name says it is an identifier, and an id is no reason for a decision (if it is a "
            "code that means something, such as a branch, add it by hand as categorical)"
        )
    if numeric:
        if all_unique and len(values) >= 10 and bool((values % 1 == 0).all()):
            ordered = values.sort_values()
            if bool((ordered.diff().dropna() == 1).all()):
                return "its values are consecutive whole numbers, one per row: a row number or id"
        return ""
    text = values.astype(str)
    if text.map(lambda v: bool(_DATE.match(v))).mean() >= 0.9:
        return "it holds dates: engineer what matters (an age, a duration, a weekday) into a numeric column"
    if distinct <= max_categories:
        return ""
    if all_unique and not text.str.contains(r"\s").any():
        return f"every one of its {distinct} values is different and has no spaces: an identifier"
    if text.str.len().mean() > 30 or text.str.count(r"\s+").mean() >= 3:
        return "it is free text: engineer categories or numbers from it"
    return (
        f"{distinct} distinct values, more than --max-categories {max_categories}: group the rare "
        "ones (e.g. into 'other'), or raise --max-categories"
    )


def _draft_output(target: str, series: Any, warnings: list[str]) -> dict:
    import pandas as pd

    values = series.dropna()
    if len(values) < len(series):
        warnings.append(
            f"target {target!r}: {len(series) - len(values)} rows have no value; train without them"
        )
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    distinct = sorted(values.unique().tolist())
    if len(distinct) < 2:
        raise DraftError(
            f"target {target!r} has {len(distinct)} distinct value(s): there is nothing to predict"
        )
    if len(distinct) <= MAX_CLASSES:
        labels = [category_value(v) for v in distinct]
        if len(set(labels)) != len(labels):
            raise DraftError(f"target {target!r}: its values {labels} are not distinct as text")
        if len(labels) == 2:
            return {
                "type": "binary",
                "class_labels": labels,
                "favourable_label": None,
                "threshold": 0.5,
                "score_meaning": "",
            }
        return {"type": "multiclass", "class_labels": labels, "favourable_label": None, "score_meaning": ""}
    if not numeric:
        raise DraftError(
            f"target {target!r} has {len(distinct)} distinct values and is not numeric: too many "
            f"classes (at most {MAX_CLASSES}) for a classifier, and no score for a regression"
        )
    median = float(values.median())
    return {
        "type": "regression",
        "class_labels": ["below", "at or above"],
        "threshold": int(median) if median.is_integer() else median,
        "favourable_when": "above",
        "score_meaning": "",
    }


# ------------------------------------------------------------------------------- names and values
def _words(column: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", column)
    return [w for w in re.split(r"[\s_\-.]+", spaced) if w]


def _tokens(column: str) -> set[str]:
    return {t for w in _words(column) for t in re.split(r"[^a-z0-9]+", w.lower()) if t}


def looks_protected(column: str) -> bool:
    tokens = _tokens(column)
    return bool(tokens & _PROTECTED_TOKENS) or any(t.startswith(_PROTECTED_PREFIXES) for t in tokens)


def humanise(column: str) -> str:
    """'loanAmount' and 'loan_amount' become 'Loan amount'; 'sepal length (cm)' 'Sepal length (cm)'."""
    words = _words(column)
    words = [w.lower() if w[:1].isupper() and w[1:].islower() else w for w in words]
    text = " ".join(words) or column
    return text[:1].upper() + text[1:]


def feature_name(column: str) -> str:
    """A Python identifier for the column: 'sepal length (cm)' becomes 'sepal_length_cm'."""
    name = re.sub(r"[\W_]+", "_", "_".join(_words(column)).lower()).strip("_")
    if not name:
        return "column"
    return f"f_{name}" if name[0].isdigit() else name


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate


def category_value(value: Any) -> str:
    """A category's value as the text a decision sends: booleans lower-case, 2.0 as '2'."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def round_outward(minimum: float, maximum: float, integer: bool) -> tuple[float, float]:
    """Widen [minimum, maximum] to round numbers: a step of a tenth of the span's magnitude
    (18.0..42.2 becomes 18..43, 250..18424 becomes 0..19000), never finer than 1 for integers."""
    span = maximum - minimum
    if span <= 0:
        return minimum, maximum
    exponent = math.floor(math.log10(span)) - 1
    if integer:
        exponent = max(exponent, 0)
    step = 10.0**exponent
    digits = max(0, -exponent)
    low = round(math.floor(round(minimum / step, 9)) * step, digits)
    high = round(math.ceil(round(maximum / step, 9)) * step, digits)
    return low, high
