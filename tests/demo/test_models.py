"""The demo models train reproducibly, fit their schemas and are good enough to demonstrate."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from decisions.predictors import load_predictor
from decisions.schema import FeatureSchema
from demo import credit, credit_linear, digits


# The trainings come from the session fixtures in tests/conftest.py (credit_trained,
# digits_trained: seed 0), shared with the rest of the suite.
@pytest.fixture
def credit_model(credit_trained):
    return credit_trained


@pytest.fixture
def digits_model(digits_trained):
    return digits_trained


def _booster(artifact: bytes) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(bytearray(artifact))
    return booster


# ---------------------------------------------------------------------------- credit
def test_credit_training_is_byte_for_byte_reproducible(credit_model):
    again = credit.train(seed=0)

    assert again.artifact == credit_model.artifact
    assert np.array_equal(again.background, credit_model.background)
    assert again.training == credit_model.training


def test_credit_model_separates_good_from_bad_on_held_out_applicants(credit_model):
    metrics = credit_model.training["metrics"]

    assert metrics["test_auc"] > 0.70
    assert credit_model.training["n_train"] == 800
    assert credit_model.training["n_test"] == 200


def test_every_csv_row_validates_without_error():
    schema = FeatureSchema.from_dict(credit.SCHEMA)
    rows, labels = credit.load_applicants()

    errors = {i: schema.validate(row)[1] for i, row in enumerate(rows)}

    assert {i: e for i, e in errors.items() if e} == {}
    assert len(rows) == 1000
    assert int(labels.sum()) == 700


def test_encoded_csv_rows_match_the_model_columns(credit_model):
    schema = FeatureSchema.from_dict(credit_model.schema)
    rows, labels = credit.load_applicants()
    clean = [schema.validate(row)[0] for row in rows]
    X = schema.encode(clean)
    booster = _booster(credit_model.artifact)

    assert len(schema.columns) == booster.num_features() == X.shape[1] == 54
    assert credit_model.background.dtype == np.float64
    assert credit_model.background.shape == (100, 54)
    # The background rows are encoded training rows, so each one is a row of X.
    assert all((X == row).all(axis=1).any() for row in credit_model.background)
    # The reported test metrics come from the same encoding the platform serves with.
    _, test_idx = credit.split_indices(labels, seed=0)
    p = booster.inplace_predict(X[test_idx])
    accuracy = float(np.mean((p >= 0.5) == labels[test_idx]))
    assert round(accuracy, 4) == credit_model.training["metrics"]["test_accuracy"]


def test_exactly_the_three_protected_attributes_are_flagged():
    schema = FeatureSchema.from_dict(credit.SCHEMA)

    protected = [f.name for f in schema.features if f.protected]

    assert protected == ["personal_status_sex", "age_years", "foreign_worker"]
    assert len(schema.features) == 20
    assert not any(schema[name].mutable for name in protected)


PROTECTED = ("personal_status_sex", "age_years", "foreign_worker")


@pytest.mark.parametrize("module", [credit, credit_linear], ids=["xgboost", "linear"])
def test_no_protected_attribute_is_a_model_input(module, credit_trained):
    trained = credit_trained if module is credit else module.train()
    schema = FeatureSchema.from_dict(trained.schema)

    # Recorded and monitored, never a column of the model.
    assert [f.name for f in schema.monitored] == list(PROTECTED)
    assert len(schema.inputs) == 17 and not any(f.protected for f in schema.inputs)
    assert not [c for c in schema.columns if c.split("=")[0] in PROTECTED]
    assert trained.training["n_columns"] == len(schema.columns) == trained.background.shape[1] == 54
    assert trained.training["monitored_not_inputs"] == list(PROTECTED)
    # So the same application with another sex, age or nationality gets the same score.
    applicant = trained.sample_rows[0]
    others = [
        {**applicant, "personal_status_sex": sex, "age_years": age, "foreign_worker": foreign}
        for sex, age, foreign in [("female_not_single", 19, "yes"), ("male_married", 75, "no")]
    ]
    rows = credit.encode_rows([applicant, *others])
    assert (rows == rows[0]).all()
    scores = load_predictor(trained.framework, trained.artifact).predict_proba(rows)[:, 1]
    assert scores[1] == scores[0] and scores[2] == scores[0]


# ---------------------------------------------------------------------------- digits
def test_digits_cnn_reads_held_out_digits(digits_model):
    X, y = digits.load_images()
    _, test_idx = digits.split_indices(y, seed=0)
    model = digits.load_artifact(digits_model.artifact)

    proba = np.asarray(model(X[test_idx].reshape(-1, 8, 8, 1).astype(np.float32)))

    assert float(np.mean(proba.argmax(axis=1) == y[test_idx])) > 0.95
    assert digits_model.training["metrics"]["test_accuracy"] > 0.95


def test_digits_artifact_reloads_and_predicts_the_same(digits_model):
    X, y = digits.load_images()
    _, test_idx = digits.split_indices(y, seed=0)
    model = digits.load_artifact(digits_model.artifact)

    proba = np.asarray(model(X[test_idx].reshape(-1, 8, 8, 1).astype(np.float32)), np.float64)
    p_true = np.clip(proba[np.arange(len(test_idx)), y[test_idx]], 1e-12, 1)
    log_loss = float(-np.mean(np.log(p_true)))

    # The metrics were computed on the trained model in memory, before saving.
    assert round(log_loss, 4) == digits_model.training["metrics"]["test_log_loss"]
    assert proba.shape == (len(test_idx), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


def test_digits_training_is_reproducible(digits_model):
    images = digits_model.background.reshape(-1, 8, 8, 1).astype(np.float32)
    again = digits.train(seed=0)

    first = np.asarray(digits.load_artifact(digits_model.artifact)(images))
    second = np.asarray(digits.load_artifact(again.artifact)(images))

    np.testing.assert_array_equal(first, second)
    assert again.training == digits_model.training


def test_digits_schema_matches_the_model_input(digits_model):
    schema = FeatureSchema.from_dict(digits_model.schema)
    row = {"image": digits_model.sample_rows[0]["image"]}

    clean, errors = schema.validate(row)

    assert errors == {}
    assert len(schema.columns) == 64 == int(np.prod(digits_model.training["input_shape"]))
    assert digits_model.background.shape == (50, 64)
    assert digits_model.background.dtype == np.float64
    assert np.array_equal(schema.encode([clean])[0], np.asarray(row["image"], dtype=np.float64))
