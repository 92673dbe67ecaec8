"""Registering model versions: through the service, the API and the management command."""

import io
import json

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import Action, AuditEvent
from config.errors import ApplicationError
from decisions.models import ModelVersion
from decisions.predictors import dump_background, sha256
from decisions.registry import predictor_for
from tests.conftest import client_for, register

pytestmark = pytest.mark.django_db


def test_register_stores_artifact_with_checksums(credit_version, credit_trained):
    assert credit_version.artifact_sha256 == sha256(credit_trained.artifact)
    assert credit_version.background_sha256 == sha256(dump_background(credit_trained.background))
    assert credit_version.purpose and credit_version.legal_basis and credit_version.controller
    protected = {f["name"] for f in credit_version.feature_schema["features"] if f["protected"]}
    assert protected == {"personal_status_sex", "age_years", "foreign_worker"}
    event = AuditEvent.objects.get(action=Action.MODEL_REGISTERED)
    assert event.data["artifact_sha256"] == credit_version.artifact_sha256


def test_tampered_artifact_refused_at_load(credit_version):
    ModelVersion.objects.filter(pk=credit_version.pk).update(artifact=b"not the registered model")
    tampered = ModelVersion.objects.get(pk=credit_version.pk)
    with pytest.raises(ValueError, match="does not match its recorded sha256"):
        predictor_for(tampered)


def test_same_version_twice_refused(credit_version, credit_trained):
    with pytest.raises(ApplicationError) as exc:
        register(credit_trained)
    assert exc.value.status_code == 409 and "credit-risk@" in exc.value.fields["version"]


def test_schema_that_does_not_fit_the_model_refused(db, credit_trained):
    schema = {"features": credit_trained.schema["features"][:-1]}
    with pytest.raises(ApplicationError) as exc:
        _register_with(credit_trained, schema=schema)
    assert "model takes" in exc.value.fields["schema"]
    assert ModelVersion.objects.count() == 0


def _register_with(trained, **changes):
    from audit.services import Actor
    from decisions.registration import model_register

    args = dict(
        name=trained.name,
        version="x",
        framework=trained.framework,
        artifact=trained.artifact,
        schema=trained.schema,
        output=trained.output,
        background=trained.background,
        actor=Actor.system("tests"),
    )
    args.update(changes)
    return model_register(**args)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"artifact": b"garbage"}, "artifact"),
        ({"framework": "sklearn"}, "framework"),
        ({"schema": {"features": [{"name": "a", "type": "text"}]}}, "schema"),
        ({"output": {"type": "binary", "class_labels": ["only-one"]}}, "output"),
        ({"background": np.zeros((3, 5))}, "background"),
        ({"retention_days": 30}, "retention_days"),
        ({"explainer": "magic"}, "explainer"),
    ],
)
def test_bad_registration_names_the_field(db, credit_trained, changes, field):
    with pytest.raises(ApplicationError) as exc:
        _register_with(credit_trained, **changes)
    assert field in exc.value.fields
    assert ModelVersion.objects.count() == 0


def test_register_through_api(integration, credit_trained, auditor):
    files = {
        "name": "credit-risk",
        "version": "api-1",
        "framework": "xgboost",
        "artifact": io.BytesIO(credit_trained.artifact),
        "background": io.BytesIO(dump_background(credit_trained.background)),
        "schema": json.dumps(credit_trained.schema),
        "output": json.dumps(credit_trained.output),
        "texts": json.dumps(credit_trained.subject_texts),
    }
    response = integration.post("/api/v1/models/", data=files, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["artifact_sha256"] == sha256(credit_trained.artifact)
    assert ModelVersion.objects.get(version="api-1").purpose == credit_trained.subject_texts["purpose"]
    # Auditors read, never write.
    files["version"] = "api-2"
    files["artifact"] = io.BytesIO(credit_trained.artifact)
    files["background"] = io.BytesIO(dump_background(credit_trained.background))
    assert client_for(auditor).post("/api/v1/models/", data=files, format="multipart").status_code == 403
    assert not ModelVersion.objects.filter(version="api-2").exists()


def test_register_through_command(db, tmp_path, credit_trained):
    (tmp_path / "m.ubj").write_bytes(credit_trained.artifact)
    np.save(tmp_path / "bg.npy", credit_trained.background)
    (tmp_path / "schema.json").write_text(json.dumps(credit_trained.schema))
    (tmp_path / "output.json").write_text(json.dumps(credit_trained.output))
    call_command(
        "register_model",
        "credit-risk",
        "cmd-1",
        "--framework",
        "xgboost",
        "--artifact",
        str(tmp_path / "m.ubj"),
        "--background",
        str(tmp_path / "bg.npy"),
        "--schema",
        str(tmp_path / "schema.json"),
        "--output",
        str(tmp_path / "output.json"),
    )
    assert ModelVersion.objects.get(version="cmd-1").artifact_sha256 == sha256(credit_trained.artifact)
    with pytest.raises(CommandError, match="version already registered"):
        call_command(
            "register_model",
            "credit-risk",
            "cmd-1",
            "--framework",
            "xgboost",
            "--artifact",
            str(tmp_path / "m.ubj"),
            "--background",
            str(tmp_path / "bg.npy"),
            "--schema",
            str(tmp_path / "schema.json"),
            "--output",
            str(tmp_path / "output.json"),
        )


def test_newest_active_version_is_used_and_retiring_takes_effect_at_once(credit_version, credit_trained):
    from audit.services import Actor
    from decisions.registration import model_version_set_status
    from decisions.registry import resolve_model_version

    assert resolve_model_version("credit-risk") == credit_version  # now cached in this process
    newer = register(credit_trained, version="2.0.0")
    assert resolve_model_version("credit-risk") == newer
    model_version_set_status(version=newer, status="retired", actor=Actor.system("tests"))
    assert resolve_model_version("credit-risk") == credit_version
    with pytest.raises(ApplicationError) as exc:
        resolve_model_version("credit-risk", "2.0.0")
    assert "retired" in exc.value.fields["model_version"]
