"""Registration's limits, each a named 4xx through the API: artifact and background size, the
columns a schema encodes, a .npy header that does not match its data. And random bytes sent as a
model of any framework end in a rejected version with a reason, never a 500."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.test import override_settings

from audit.services import Actor
from decisions.models import ModelVersion
from decisions.predictors import dump_background
from explanations.vetting import model_version_check

pytestmark = pytest.mark.django_db

OUTPUT = {"type": "binary", "class_labels": ["no", "yes"], "favourable_label": "yes", "threshold": 0.5}
SCHEMA = {"features": [{"name": f"x{i}", "type": "numeric"} for i in range(4)]}


def upload(integration, *, version: str = "1", framework: str = "xgboost", **parts):
    rng = np.random.default_rng(0)
    files = {
        "name": "limits",
        "version": version,
        "framework": framework,
        "artifact": io.BytesIO(parts.pop("artifact", rng.bytes(2048))),
        "background": io.BytesIO(parts.pop("background", dump_background(rng.normal(size=(20, 4))))),
        "schema": json.dumps(parts.pop("schema", SCHEMA)),
        "output": json.dumps(OUTPUT),
    }
    return integration.post("/api/v1/models/", data=files, format="multipart")


@override_settings(MODEL_ARTIFACT_MAX_BYTES=1024 * 1024)
def test_an_artifact_over_the_limit_is_a_413_naming_it(integration):
    response = upload(integration, artifact=b"\0" * (3 * 1024 * 1024))
    assert (response.status_code, response.json()["errors"]) == (
        413,
        {"artifact": "is larger than 1,048,576 bytes (MODEL_ARTIFACT_MAX_BYTES)"},
    )
    assert not ModelVersion.objects.exists()


@override_settings(MODEL_BACKGROUND_MAX_BYTES=4096)
def test_a_background_over_the_limit_is_a_413_naming_it(integration):
    response = upload(integration, background=dump_background(np.zeros((1000, 4))))
    assert (response.status_code, response.json()["errors"]) == (
        413,
        {"background": "is larger than 4,096 bytes (MODEL_BACKGROUND_MAX_BYTES)"},
    )


def test_a_tiny_schema_with_a_huge_image_is_refused_before_any_column_is_made(integration):
    schema = {"features": [{"name": "scan", "type": "image", "shape": [1_000_000, 1_000_000, 3]}]}
    assert len(json.dumps(schema)) < 200
    response = upload(integration, schema=schema)
    assert (response.status_code, response.json()["errors"]) == (
        400,
        {"schema": "encodes more than 100,000 model columns (MODEL_MAX_COLUMNS)"},
    )


def test_a_npy_header_declaring_a_huge_shape_is_refused_before_allocating(integration):
    # A valid header for 10^12 x 4 float64 values, followed by 64 bytes of data.
    real = dump_background(np.zeros((2, 4)))
    header = real[: real.index(b"\n") + 1].replace(b"(2, 4)", b"(1000000000000, 4)")
    header = header[:-1].ljust(len(header) - 1 + (64 - len(header) % 64)) + b"\n"  # keep it aligned
    header = header[:8] + (len(header) - 10).to_bytes(2, "little") + header[10:]
    response = upload(integration, background=header + bytes(64))
    assert (response.status_code, response.json()["errors"]) == (
        400,
        {
            "background": "background: the .npy header declares shape (1000000000000, 4) of float64, "
            "which does not match the 64 bytes of data that follow it"
        },
    )


@pytest.mark.parametrize("framework", ["xgboost", "sklearn", "lightgbm", "onnx", "keras"])
def test_random_bytes_as_a_model_are_rejected_with_a_reason(integration, framework):
    response = upload(integration, framework=framework)
    assert response.status_code == 202, response.content
    version = model_version_check(
        version_id=ModelVersion.objects.get().pk, actor=Actor.system("registration checks")
    )
    assert version.status == "rejected"
    assert len(version.checks["reasons"]) == 1
    assert version.checks["reasons"][0].startswith(("artifact: ", "crash: ")), version.checks["reasons"]
