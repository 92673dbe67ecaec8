"""The XGBoost predictor calls xgboost's C function for in-place prediction itself: its results
must be `Booster.inplace_predict`'s, bit for bit, on the real models and data (no database)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import xgboost as xgb

from decisions.predictors.xgboost import XGBoostPredictor
from decisions.schema import FeatureSchema
from demo import credit, digits


@pytest.fixture(scope="module")
def credit_rows(credit_trained):
    schema = FeatureSchema.from_dict(credit_trained.schema)
    rows, _ = credit.load_applicants()
    return schema.encode([schema.validate(row)[0] for row in rows])


@pytest.fixture(scope="module")
def credit_predictor(credit_trained):
    return XGBoostPredictor(credit_trained.artifact)


def _reference(artifact: bytes) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(bytearray(artifact))
    return booster


def test_credit_probabilities_and_margins_are_inplace_predicts_own(
    credit_trained, credit_predictor, credit_rows
):
    booster = _reference(credit_trained.artifact)
    expected = booster.inplace_predict(credit_rows).astype(np.float64)
    margins = booster.inplace_predict(credit_rows, predict_type="margin").astype(np.float64)

    together = credit_predictor.predict_proba(credit_rows)
    one_by_one = np.vstack([credit_predictor.predict_proba(row[None, :]) for row in credit_rows])

    assert together.shape == one_by_one.shape == (1000, 2)
    assert np.array_equal(together[:, 1], expected)
    assert np.array_equal(together[:, 0], 1.0 - expected)
    assert np.array_equal(one_by_one, together)
    assert np.array_equal(credit_predictor.margin(credit_rows), margins)
    # The rows differ, so a prediction that kept returning one row's result would show.
    assert len(np.unique(expected)) > 900


def test_a_multiclass_booster_gives_one_column_per_class():
    pixels, labels = digits.load_images()
    booster = xgb.train(
        {"objective": "multi:softprob", "num_class": 10, "max_depth": 3, "seed": 0},
        xgb.DMatrix(pixels[:1200], labels[:1200]),
        num_boost_round=5,
    )
    predictor = XGBoostPredictor(bytes(booster.save_raw(raw_format="ubj")))

    proba = predictor.predict_proba(pixels[1200:])

    assert proba.shape == (len(pixels) - 1200, 10)
    assert np.array_equal(proba, booster.inplace_predict(pixels[1200:]).astype(np.float64))
    assert float(np.mean(proba.argmax(axis=1) == labels[1200:])) > 0.8


def test_rows_of_the_wrong_width_are_refused_with_the_expected_width(credit_predictor, credit_rows):
    with pytest.raises(ValueError, match="expected rows of 54 columns, got an array of shape \\(2, 53\\)"):
        credit_predictor.predict_proba(credit_rows[:2, :53])


def test_threads_predicting_at_once_each_get_their_own_rows_results(credit_predictor, credit_rows):
    # Each thread points its own proxy matrix at its own rows; a shared one would mix them up.
    expected = credit_predictor.predict_proba(credit_rows)
    mismatches: list[int] = []
    start = threading.Barrier(4)

    def predict(offset: int) -> None:
        start.wait()
        for _ in range(30):
            for i in range(offset, len(credit_rows), 4):
                if not np.array_equal(credit_predictor.predict_proba(credit_rows[i : i + 1])[0], expected[i]):
                    mismatches.append(i)

    threads = [threading.Thread(target=predict, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert mismatches == []
