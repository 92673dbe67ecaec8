"""The `digit-reader` demo: a small Keras CNN reading scikit-learn's bundled 8x8 digits.

TensorFlow and Keras are imported inside the functions only: the web process imports this module
to register the demo and must not pay for TensorFlow.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from .trained import TrainedModel

NAME = "digit-reader"
VERSION = "1.0.0"

INPUT_SHAPE = [8, 8, 1]
TEST_FRACTION = 0.2
BACKGROUND_ROWS = 50
EPOCHS = 12
BATCH_SIZE = 32
LEARNING_RATE = 0.003

SCHEMA: dict = {
    "features": [
        {
            "name": "image",
            "label": "Scanned digit",
            "description": (
                "The handwritten digit as scanned from your form: 8 by 8 pixels, each from "
                "0 (blank) to 16 (fully inked)."
            ),
            "type": "image",
            "shape": [8, 8],
            "minimum": 0,
            "maximum": 16,
            "mutable": False,
            "protected": False,
            "translations": {
                "de": {
                    "label": "Gescannte Ziffer",
                    "description": (
                        "Die handgeschriebene Ziffer, wie sie von Ihrem Formular gescannt wurde: 8 mal 8 "
                        "Pixel, jedes von 0 (leer) bis 16 (voll eingefärbt)."
                    ),
                }
            },
        }
    ]
}

OUTPUT: dict = {
    "type": "multiclass",
    "class_labels": [str(d) for d in range(10)],
    "favourable_label": None,
    "score_meaning": "Model confidence in the digit read",
}

SUBJECT_TEXTS: dict = {
    "controller": "Demo Benefits Agency",
    "purpose": (
        "We read the handwritten digits on the paper forms you send us automatically, so that "
        "your form is entered into our system quickly. The software looks at one scanned digit "
        "at a time and says which digit from 0 to 9 it most likely is."
    ),
    "significance": (
        "The digit the software reads is entered into your form as if a member of staff had "
        "typed it. It only reads what you wrote: it does not decide your claim, but a misread "
        "digit (for example in an amount or a date) can affect how your form is handled."
    ),
    "consequences": (
        "The digit read is entered into your form. If you think a digit was misread, tell us: "
        "a member of staff will check it against your original form and correct it, and you "
        "can contest any decision that was based on it."
    ),
    "legal_basis": (
        "Article 6(1)(e) GDPR: processing necessary for a task carried out in the public "
        "interest, namely administering benefits under the national social security law that "
        "governs your claim."
    ),
    "contact": (
        "Data Protection Officer, Demo Benefits Agency, dpo@benefits-agency.example. You may "
        "also complain to your data protection supervisory authority."
    ),
    "translations": {
        "de": {
            "controller": "Demo-Sozialleistungsamt",
            "purpose": (
                "Wir lesen die handgeschriebenen Ziffern auf den Papierformularen, die Sie uns schicken, "
                "automatisch, damit Ihr Formular schnell in unser System übernommen wird. Die Software "
                "betrachtet jeweils eine gescannte Ziffer und sagt, welche Ziffer von 0 bis 9 sie am "
                "wahrscheinlichsten ist."
            ),
            "significance": (
                "Die gelesene Ziffer wird in Ihr Formular übernommen, als hätte sie jemand aus dem "
                "Personal eingetippt. Sie liest nur, was Sie geschrieben haben: Sie entscheidet nicht über "
                "Ihren Antrag, aber eine falsch gelesene Ziffer (zum Beispiel in einem Betrag oder Datum) "
                "kann beeinflussen, wie Ihr Formular bearbeitet wird."
            ),
            "consequences": (
                "Die gelesene Ziffer wird in Ihr Formular übernommen. Wenn Sie meinen, eine Ziffer wurde "
                "falsch gelesen, sagen Sie es uns: jemand aus dem Personal prüft sie anhand Ihres "
                "Originalformulars und berichtigt sie, und Sie können jede darauf beruhende Entscheidung "
                "anfechten."
            ),
            "legal_basis": (
                "Artikel 6 Absatz 1 Buchstabe e DSGVO: die Verarbeitung ist für eine Aufgabe im "
                "öffentlichen Interesse erforderlich, nämlich die Verwaltung von Leistungen nach dem "
                "nationalen Sozialrecht, das für Ihren Antrag gilt."
            ),
            "contact": (
                "Datenschutzbeauftragte, Demo-Sozialleistungsamt, dpo@benefits-agency.example. Sie "
                "können sich auch bei Ihrer Datenschutz-Aufsichtsbehörde beschweren."
            ),
        }
    },
}


def load_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits (no download): pixels (n, 64) float64 in 0..16, labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return np.asarray(digits.data, dtype=np.float64), np.asarray(digits.target, dtype=np.int64)


def split_indices(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=TEST_FRACTION, stratify=labels, random_state=seed
    )
    return np.sort(train_idx), np.sort(test_idx)


def build_model():
    """The CNN; it takes pixel values 0..16 as the API receives them, shape (n, 8, 8, 1)."""
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=tuple(INPUT_SHAPE)),
            # Scaling inside the model keeps the stored rows, the background and the
            # explanations in the API's own pixel units.
            keras.layers.Rescaling(1.0 / 16.0),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="digit_reader",
    )


def artifact_bytes(model) -> bytes:
    """The model as `.keras` file bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        with open(path, "rb") as fh:
            return fh.read()


def load_artifact(artifact: bytes):
    """Inverse of artifact_bytes, as the platform's predictor loads it."""
    import keras

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        with open(path, "wb") as fh:
            fh.write(artifact)
        return keras.saving.load_model(path, compile=False)


def train(seed: int = 0) -> TrainedModel:
    import keras
    import tensorflow as tf

    # Same seed, same weights: seeds Python, numpy and TensorFlow, and makes TF's kernels
    # deterministic (process-wide; harmless for the platform, which only predicts).
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()

    X, y = load_images()
    train_idx, test_idx = split_indices(y, seed)
    images = X.reshape(-1, *INPUT_SHAPE).astype(np.float32)

    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        images[train_idx],
        y[train_idx],
        epochs=EPOCHS,
        batch_size=BATCH_SIZE,
        shuffle=True,
        verbose=0,
    )
    proba = np.asarray(model.predict(images[test_idx], batch_size=256, verbose=0))
    y_test = y[test_idx]
    accuracy = float(np.mean(proba.argmax(axis=1) == y_test))
    log_loss = float(-np.mean(np.log(np.clip(proba[np.arange(len(y_test)), y_test], 1e-12, 1))))

    # Save the weights without the optimizer state: the platform only predicts.
    inference = keras.models.clone_model(model)
    inference.set_weights(model.get_weights())
    artifact = artifact_bytes(inference)

    rng = np.random.default_rng(seed)
    background_idx = np.sort(rng.choice(train_idx, size=BACKGROUND_ROWS, replace=False))

    return TrainedModel(
        name=NAME,
        version=VERSION,
        framework="keras",
        artifact=artifact,
        schema=SCHEMA,
        output=OUTPUT,
        background=np.ascontiguousarray(X[background_idx], dtype=np.float64),
        training={
            "data_source": (
                "scikit-learn's bundled digits (sklearn.datasets.load_digits): a copy of the "
                "test set of the UCI Optical Recognition of Handwritten Digits data, "
                "Alpaydin and Kaynak 1998"
            ),
            "licence": "CC BY 4.0",
            "input_shape": INPUT_SHAPE,
            "n_train": int(len(train_idx)),
            "n_test": int(len(test_idx)),
            "split": f"stratified {1 - TEST_FRACTION:.0%}/{TEST_FRACTION:.0%}, seed {seed}",
            "metrics": {
                "test_accuracy": round(accuracy, 4),
                "test_log_loss": round(log_loss, 4),
            },
            "hyperparameters": {
                "layers": "Rescaling(1/16), Conv2D(16, 3, relu), Conv2D(32, 3, relu), "
                "Flatten, Dense(10, softmax)",
                "optimizer": "adam",
                "learning_rate": LEARNING_RATE,
                "epochs": EPOCHS,
                "batch_size": BATCH_SIZE,
                "seed": seed,
            },
            "background": f"{BACKGROUND_ROWS} training images drawn with seed {seed}",
            "library_versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
        },
        subject_texts=SUBJECT_TEXTS,
        explainer="deep",
        sample_rows=[{"image": X[i].tolist()} for i in test_idx],
    )
