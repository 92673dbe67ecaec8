"""`manage.py draft_schema`: a schema and output semantics drafted from a CSV of bundled data
(no database)."""

import io
import json

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris

from decisions.predictors.base import decide
from decisions.schema import FeatureSchema
from decisions.schema_draft import DraftError, draft_from_csv, looks_protected, round_outward

DIABETES_INTEGRAL = {"age", "s1", "s6"}  # whole numbers in every row of the unscaled data


def diabetes_frame() -> pd.DataFrame:
    """The unscaled diabetes data with its sex coded as text and an applicant id in front."""
    frame = load_diabetes(as_frame=True, scaled=False).frame
    frame["sex"] = frame["sex"].map({1.0: "female", 2.0: "male"})  # the coding's direction is arbitrary
    frame.insert(0, "applicant_id", np.arange(5000, 5000 + len(frame)))
    return frame


@pytest.fixture
def diabetes_csv(tmp_path):
    path = tmp_path / "diabetes.csv"
    diabetes_frame().to_csv(path, index=False)
    return path


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("draft_schema", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_diabetes_schema_parses_with_the_data_bounds_integers_and_categories(diabetes_csv):
    frame = diabetes_frame()
    draft = draft_from_csv(diabetes_csv, target="target")
    schema = FeatureSchema.from_dict(draft.schema)
    assert schema.names == ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    for f in schema.features:
        if f.type == "numeric":
            assert (f.minimum, f.maximum) == (frame[f.name].min(), frame[f.name].max())
            assert f.integer == (f.name in DIABETES_INTEGRAL)
            assert f.unit == "" and f.description == ""
    raw = {item["name"]: item for item in draft.schema["features"]}
    assert (raw["age"]["minimum"], raw["age"]["maximum"]) == (19, 79)
    assert type(raw["age"]["minimum"]) is int and type(raw["bmi"]["minimum"]) is float
    by_frequency = frame["sex"].value_counts().index.tolist()
    assert by_frequency == ["female", "male"]
    assert [(c.value, c.label) for c in schema["sex"].categories] == [("female", "female"), ("male", "male")]
    assert schema["sex"].encoding == "one_hot"
    assert schema["bmi"].label == "Bmi" and draft.rows == len(frame)


def test_protected_columns_are_flagged_immutable_with_a_warning(diabetes_csv):
    draft = draft_from_csv(diabetes_csv, target="target")
    schema = FeatureSchema.from_dict(draft.schema)
    assert {f.name for f in schema.features if f.protected} == {"age", "sex"}
    assert not any(f.mutable for f in schema.features)
    for name in ("age", "sex"):
        (warning,) = [w for w in draft.warnings if w.startswith(f"column {name!r}")]
        assert "protected characteristic" in warning and "Art. 9" in warning


@pytest.mark.parametrize(
    ("column", "protected"),
    [
        ("personal_status_sex", True),
        ("age_years", True),
        ("foreign_worker", True),
        ("Ethnicity", True),
        ("religion", True),
        ("maritalStatus", True),
        ("is_pregnant", True),
        ("disability_status", True),
        ("nationality", True),
        ("average_balance", False),
        ("page_views", False),
        ("usage", False),
        ("raceway_length", False),
        ("sussex_branch", False),
    ],
)
def test_protected_names_are_recognised_by_their_words(column, protected):
    assert looks_protected(column) is protected


def test_the_id_and_the_target_are_left_out_and_the_id_named_in_a_warning(diabetes_csv):
    draft = draft_from_csv(diabetes_csv, target="target")
    names = {item["name"] for item in draft.schema["features"]}
    assert "applicant_id" not in names and "target" not in names
    (warning,) = [w for w in draft.warnings if "applicant_id" in w]
    assert "skipped" in warning and "identifier" in warning


def test_round_bounds_widen_outward_to_round_numbers(diabetes_csv):
    frame = diabetes_frame()
    draft = draft_from_csv(diabetes_csv, target="target", round_bounds=True)
    bounds = {
        f["name"]: (f["minimum"], f["maximum"]) for f in draft.schema["features"] if f["type"] == "numeric"
    }
    assert bounds["bmi"] == (18.0, 43.0)  # 18.0 .. 42.2
    assert bounds["s1"] == (90, 310)  # 97 .. 301, whole numbers
    assert bounds["s2"] == (40.0, 250.0)  # 41.6 .. 242.4
    assert bounds["s5"] == (3.2, 6.2)  # 3.2581 .. 6.107
    for name, (low, high) in bounds.items():
        assert low <= frame[name].min() and high >= frame[name].max()
    assert round_outward(250, 18424, True) == (0, 19000)
    assert round_outward(0.3, 0.7, False) == (0.3, 0.7)


def test_missing_values_are_drafted_with_a_warning_saying_what_to_do(tmp_path):
    frame = diabetes_frame()
    frame.loc[[3, 8, 20], "bmi"] = np.nan
    frame.loc[[5], "sex"] = np.nan
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)
    draft = draft_from_csv(path, target="target")
    schema = FeatureSchema.from_dict(draft.schema)
    assert (schema["bmi"].minimum, schema["bmi"].maximum) == (frame["bmi"].min(), frame["bmi"].max())
    assert [c.value for c in schema["sex"].categories] == ["female", "male"]
    (bmi,) = [w for w in draft.warnings if w.startswith("column 'bmi'")]
    (sex,) = [w for w in draft.warnings if w.startswith("column 'sex'") and "empty" in w]
    assert "3 of 442 rows" in bmi and "impute" in bmi
    assert "1 of 442 rows" in sex and "category of their own" in sex


def test_ids_dates_free_text_and_many_values_are_skipped_each_with_its_reason(tmp_path):
    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame(
        {
            "housing": rng.choice(["own", "rent", "free"], n, p=[0.6, 0.3, 0.1]),
            "has_phone": rng.choice([True, False], n),
            "applied_on": pd.date_range("2024-01-01", periods=n).strftime("%Y-%m-%d"),
            "notes": [f"the applicant said something about item {i}" for i in range(n)],
            "city": [f"city{i % 30}" for i in range(n)],
            "token": [f"X{i:05d}" for i in range(n)],
            "income": rng.integers(1000, 5000, n),
            "y": rng.choice(["no", "yes"], n),
        }
    )
    path = tmp_path / "mixed.csv"
    frame.to_csv(path)  # with pandas' index as an unnamed first column
    draft = draft_from_csv(path, target="y")
    schema = FeatureSchema.from_dict(draft.schema)
    assert schema.names == ["housing", "has_phone", "income"]
    counts = frame["housing"].value_counts()
    assert [c.value for c in schema["housing"].categories] == counts.index.tolist()
    assert {c.value for c in schema["has_phone"].categories} == {"true", "false"}
    reasons = {w.split("'")[1]: w for w in draft.warnings if "skipped" in w}
    assert set(reasons) == {"Unnamed: 0", "applied_on", "notes", "city", "token"}
    assert "row number" in reasons["Unnamed: 0"]
    assert "dates" in reasons["applied_on"]
    assert "free text" in reasons["notes"]
    assert "30 distinct values" in reasons["city"] and "--max-categories 20" in reasons["city"]
    assert "identifier" in reasons["token"]

    fewer = draft_from_csv(path, target="y", max_categories=2)
    assert [f["name"] for f in fewer.schema["features"]] == ["has_phone", "income"]
    assert any(w.startswith("column 'housing': skipped, 3 distinct values") for w in fewer.warnings)


def test_iris_names_become_identifiers_and_multiclass_output(tmp_path):
    iris = load_iris(as_frame=True)
    frame = iris.frame
    frame["target"] = frame["target"].map(dict(enumerate(iris.target_names)))
    path = tmp_path / "iris.csv"
    frame.iloc[::-1].to_csv(path, index=False)  # virginica first: the labels come out sorted
    draft = draft_from_csv(path, target="target", with_output=True)
    schema = FeatureSchema.from_dict(draft.schema)
    assert schema.names == ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]
    assert schema["sepal_length_cm"].label == "Sepal length (cm)"
    assert (schema["petal_width_cm"].minimum, schema["petal_width_cm"].maximum) == (0.1, 2.5)
    assert any("'sepal length (cm)' as sepal_length_cm" in w for w in draft.warnings)
    assert draft.output == {
        "type": "multiclass",
        "class_labels": ["setosa", "versicolor", "virginica"],
        "favourable_label": None,
        "score_meaning": "",
    }
    outcome = decide(draft.output, np.array([[0.1, 0.2, 0.7]]))[0]
    assert (outcome.outcome, outcome.favourable) == ("virginica", None)


def test_breast_cancer_binary_output(tmp_path):
    path = tmp_path / "cancer.csv"
    load_breast_cancer(as_frame=True).frame.to_csv(path, index=False)
    draft = draft_from_csv(path, target="target", with_output=True)
    assert len(FeatureSchema.from_dict(draft.schema).features) == 30
    assert draft.output == {
        "type": "binary",
        "class_labels": ["0", "1"],
        "favourable_label": None,
        "threshold": 0.5,
        "score_meaning": "",
    }
    assert [o.outcome for o in decide(draft.output, np.array([[0.7, 0.3], [0.2, 0.8]]))] == ["0", "1"]


def test_diabetes_regression_output_cuts_at_the_median(diabetes_csv):
    draft = draft_from_csv(diabetes_csv, target="target", with_output=True)
    assert draft.output == {
        "type": "regression",
        "class_labels": ["below", "at or above"],
        "threshold": 140.5,
        "favourable_when": "above",
        "score_meaning": "",
    }
    assert draft.output["threshold"] == diabetes_frame()["target"].median()
    outcomes = decide(draft.output, np.array([[200.0], [100.0]]))
    assert [(o.outcome, o.favourable) for o in outcomes] == [("at or above", True), ("below", False)]


def test_a_target_that_is_neither_classes_nor_a_score_is_refused(tmp_path):
    path = tmp_path / "names.csv"
    x = np.random.default_rng(0).normal(size=30)
    pd.DataFrame({"x": x, "who": [f"person {i}" for i in range(30)]}).to_csv(path, index=False)
    with pytest.raises(DraftError, match="30 distinct values and is not numeric"):
        draft_from_csv(path, target="who", with_output=True)
    pd.DataFrame({"x": x, "y": 1}).to_csv(path, index=False)
    with pytest.raises(DraftError, match="nothing to predict"):
        draft_from_csv(path, target="y", with_output=True)


def test_only_max_rows_are_read_and_the_sample_is_said(diabetes_csv):
    draft = draft_from_csv(diabetes_csv, target="target", max_rows=50)
    first = diabetes_frame().iloc[:50]
    schema = FeatureSchema.from_dict(draft.schema)
    assert draft.rows == 50
    assert (schema["bmi"].minimum, schema["bmi"].maximum) == (first["bmi"].min(), first["bmi"].max())
    assert any("only the first 50 rows were read" in w for w in draft.warnings)


def test_command_prints_the_schema_and_warnings_on_stderr(diabetes_csv):
    out, err = run(diabetes_csv, "--target", "target")
    assert json.loads(out) == draft_from_csv(diabetes_csv, target="target").schema
    lines = err.splitlines()
    assert any(line.startswith("warning: column 'applicant_id': skipped") for line in lines)
    assert lines[-1].startswith("drafted 10 features from 442 rows")


def test_command_writes_schema_and_output_files(diabetes_csv, tmp_path):
    schema_path, output_path = tmp_path / "schema.json", tmp_path / "output.json"
    out, _ = run(diabetes_csv, "--target", "target", "--out", schema_path, "--output-json", output_path)
    assert out == ""
    FeatureSchema.from_dict(json.loads(schema_path.read_text()))
    assert json.loads(output_path.read_text())["type"] == "regression"


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, ["--target", "target"], "no such file"),
        (b"", ["--target", "target"], "the file is empty"),
        (b"a,b\n", ["--target", "a"], "a header but no rows"),
        (b"a,b\n1,2\n3,4,5,6\n", ["--target", "a"], "not a readable CSV"),
        ("name,b\nété,1\n".encode("latin-1"), ["--target", "b"], "not UTF-8 text"),
        (b"a,b\n1,2\n", ["--target", "c"], "target 'c' is not a column of the CSV \\(its columns: a, b\\)"),
        (b"a,b\n" + b"1,2\n" * 1000, ["--target", "a", "--max-mb", "0.001"], "over the 0.001 MB limit"),
        (b"id,y\n1,0\n2,1\n", ["--target", "y"], "no column could be drafted"),
    ],
)
def test_command_errors_are_one_clear_line(tmp_path, content, args, message):
    path = tmp_path / "data.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CommandError, match=message) as caught:
        run(path, *args)
    assert "Traceback" not in str(caught.value) and "\n" not in str(caught.value)
