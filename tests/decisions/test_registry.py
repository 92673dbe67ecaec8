"""Registering model versions: through the service, the API and the management command."""

import io
import json

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import Action, AuditEvent
from audit.services import Actor
from config.errors import ApplicationError
from decisions.models import DecisionModel, ModelVersion
from decisions.predictors import dump_background, sha256
from decisions.registration import model_register
from decisions.registry import predictor_for
from decisions.schema import FeatureSchema
from explanations.vetting import model_version_check
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


def test_schema_that_does_not_fit_the_model_is_rejected_by_its_checks(db, credit_trained):
    schema = {"features": credit_trained.schema["features"][1:]}  # the first is a model input
    width = len(FeatureSchema.from_dict(schema).columns)
    version = _register_with(credit_trained, schema=schema, background=credit_trained.background[:, :width])
    assert version.status == ModelVersion.Status.CANDIDATE and version.checks["state"] == "pending"
    checked = model_version_check(version_id=version.pk, actor=Actor.system("tests"))
    assert checked.status == ModelVersion.Status.REJECTED
    assert any("the model takes" in reason for reason in checked.checks["reasons"]), checked.checks
    assert DecisionModel.objects.get(name=credit_trained.name).default_version_id is None
    event = AuditEvent.objects.get(action=Action.MODEL_CHECKED)
    assert event.data["passed"] is False and event.data["reasons"] == checked.checks["reasons"]


def _register_with(trained, **changes):
    args = dict(
        name=trained.name,
        version="x",
        framework=trained.framework,
        artifact=trained.artifact,
        schema=trained.schema,
        output=trained.output,
        background=trained.background,
        actor=Actor.system("tests"),
        queue_checks=False,
    )
    args.update(changes)
    return model_register(**args)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"artifact": b""}, "artifact"),
        ({"framework": "pytorch"}, "framework"),
        ({"explainer": "supplied"}, "explainer"),
        ({"output": {"type": "regression", "class_labels": ["low", "high"]}}, "output"),
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
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["artifact_sha256"] == sha256(credit_trained.artifact)
    assert body["status"] == "candidate" and body["checks"]["state"] == "pending"
    assert response["Location"] == "/api/v1/models/credit-risk/versions/api-1/"
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
    registered = ModelVersion.objects.get(version="cmd-1")
    assert registered.artifact_sha256 == sha256(credit_trained.artifact)
    # The command ran the checks in their sandbox: the model's first version is its default.
    assert registered.status == "active" and registered.checks["state"] == "passed"
    assert registered.checks["report"]["method"] == "tree"
    assert registered.checks["report"]["max_additivity_error"] < 1e-4
    assert DecisionModel.objects.get(name="credit-risk").default_version == registered
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


def test_a_second_version_leaves_the_default_unchanged_until_promoted(
    credit_version, credit_trained, integration
):
    from decisions.lifecycle import model_version_set_status
    from decisions.registry import resolve_model_version

    assert resolve_model_version("credit-risk") == credit_version  # now cached in this process
    newer = register(credit_trained, version="2.0.0")
    assert newer.checks["state"] == "passed" and newer.status == "candidate"
    assert resolve_model_version("credit-risk") == credit_version
    with pytest.raises(ApplicationError) as exc:
        resolve_model_version("credit-risk", "2.0.0")
    assert "candidate" in exc.value.fields["model_version"]

    response = integration.post("/api/v1/models/credit-risk/versions/2.0.0/promote/")
    assert response.status_code == 200, response.content
    assert response.json()["is_default"] is True and response.json()["status"] == "active"
    assert resolve_model_version("credit-risk") == newer
    promoted = AuditEvent.objects.get(action=Action.MODEL_PROMOTED)
    assert promoted.data["previous_default"] == credit_version.pk
    # The previous default still decides when a request names it, until retired.
    assert resolve_model_version("credit-risk", "1.0.0") == credit_version
    model_version_set_status(version=credit_version, status="retired", actor=Actor.system("tests"))
    with pytest.raises(ApplicationError) as exc:
        resolve_model_version("credit-risk", "1.0.0")
    assert "retired" in exc.value.fields["model_version"]
    # The default cannot be retired: another version must be promoted first.
    with pytest.raises(ApplicationError) as exc:
        model_version_set_status(version=newer, status="retired", actor=Actor.system("tests"))
    assert "promote another version first" in exc.value.fields["status"]


def test_a_rejected_or_unchecked_version_cannot_be_promoted_or_shadowed(
    credit_version, credit_trained, integration
):
    pending = register(credit_trained, version="2.0.0", checked=False)
    response = integration.post("/api/v1/models/credit-risk/versions/2.0.0/promote/")
    assert response.status_code == 409 and "not passed yet" in response.json()["errors"]["status"]
    response = integration.post(
        "/api/v1/models/credit-risk/versions/2.0.0/shadow/", {"enabled": True}, format="json"
    )
    assert response.status_code == 409
    assert ModelVersion.objects.get(pk=pending.pk).shadow is False
    assert DecisionModel.objects.get(name="credit-risk").default_version == credit_version


def test_only_integrations_promote(credit_version, credit_trained, auditor, caseworker):
    register(credit_trained, version="2.0.0")
    for user in (auditor, caseworker):
        assert client_for(user).post("/api/v1/models/credit-risk/versions/2.0.0/promote/").status_code == 403
    assert DecisionModel.objects.get(name="credit-risk").default_version == credit_version


def test_json_parts_upload_as_files(integration, credit_trained):
    files = {
        "name": "credit-risk",
        "version": "files-1",
        "framework": "xgboost",
        "artifact": io.BytesIO(credit_trained.artifact),
        "background": io.BytesIO(dump_background(credit_trained.background)),
        "schema": _upload("schema.json", json.dumps(credit_trained.schema).encode()),
        "output": _upload("output.json", json.dumps(credit_trained.output).encode()),
        "texts": _upload("texts.json", json.dumps(credit_trained.subject_texts).encode()),
    }
    response = integration.post("/api/v1/models/", data=files, format="multipart")
    assert response.status_code == 202, response.content
    stored = ModelVersion.objects.get(version="files-1")
    assert (
        stored.output == credit_trained.output and stored.purpose == credit_trained.subject_texts["purpose"]
    )

    files.update(
        version="files-2",
        artifact=io.BytesIO(credit_trained.artifact),
        background=io.BytesIO(dump_background(credit_trained.background)),
        schema=_upload("schema.json", b'{"features": [}'),
        output=_upload("output.json", json.dumps(credit_trained.output).encode()),
    )
    response = integration.post("/api/v1/models/", data=files, format="multipart")
    assert response.status_code == 400
    assert "at line 1, column 15" in str(response.json()["errors"]["schema"])
    assert not ModelVersion.objects.filter(version="files-2").exists()


def _upload(name: str, content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="application/json")
