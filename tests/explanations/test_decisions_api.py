"""The decisions API as the controller's decision service uses it."""

import json
import uuid
from datetime import timedelta

import numpy as np
import pytest
import xgboost as xgb
from django.conf import settings
from rest_framework.test import APIClient

from audit.chain import verify_chain
from audit.models import Action, AuditEvent
from decisions.commitments import features_commitment
from decisions.models import Decision, IdempotencyRecord
from decisions.schema import FeatureSchema
from explanations.models import Explanation
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
URL = "/api/v1/decisions/"


def body(applicant, **extra):
    return {"model": "credit-risk", "subject_ref": "subj-001", "features": applicant, **extra}


def post(client, data, **headers):
    return client.post(URL, data=json.dumps(data), content_type="application/json", **headers)


def test_records_decision_with_model_output(integration, credit_version, applicant, api_key):
    response = post(integration, body(applicant, reference="loan-42"))
    assert response.status_code == 201, response.content
    data = response.json()
    decision = Decision.objects.get(pk=data["id"])
    # The stored score is the registered model's own output on the same row.
    schema = FeatureSchema.from_dict(credit_version.feature_schema)
    booster = xgb.Booster()
    booster.load_model(bytearray(bytes(credit_version.artifact)))
    expected = float(booster.predict(xgb.DMatrix(schema.encode([applicant])))[0])
    assert decision.score == pytest.approx(expected, abs=1e-7)
    assert data["score"] == decision.score
    assert data["outcome"] == ("approved" if expected >= 0.5 else "refused")
    assert data["favourable"] == (data["outcome"] == "approved")
    assert data["model"] == "credit-risk" and data["model_version"] == credit_version.version
    assert decision.features == applicant and decision.reference == "loan-42"
    assert decision.api_key == api_key
    assert data["explanation"] == {
        "status": "pending",
        "url": f"/api/v1/decisions/{decision.pk}/explanation/",
    }
    assert data["subject_access_url"].startswith("http://127.0.0.1:8000/access/")
    token = data["subject_access_url"].rstrip("/").rsplit("/", 1)[1]
    assert len(token) >= 32 and token not in decision.access_token_hash  # stored hashed
    assert Explanation.objects.get(decision=decision).status == "pending"
    event = AuditEvent.objects.get(action=Action.DECISION_RECORDED, object_id=str(decision.pk))
    assert event.data["outcome"] == decision.outcome and event.actor_id == str(api_key.pk)
    assert verify_chain().ok


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"age_years": "forty"}, "age_years", "must be a number, not a string"),
        ({"age_years": 12}, "age_years", "must be at least"),
        ({"duration_months": 12.5}, "duration_months", "whole number"),
        ({"housing": "castle"}, "housing", "must be one of"),
        ({"favourite_colour": "blue"}, "favourite_colour", "unknown feature"),
        ({"credit_amount": None}, "credit_amount", "required"),
    ],
)
def test_bad_feature_is_named_and_nothing_stored(
    integration, credit_version, applicant, change, field, message
):
    before = AuditEvent.objects.count()
    response = post(integration, body({**applicant, **change}))
    assert response.status_code == 400
    assert message in response.json()["errors"]["features"][field]
    assert Decision.objects.count() == 0 and Explanation.objects.count() == 0
    assert AuditEvent.objects.count() == before


def test_every_bad_field_is_reported_at_once(integration, credit_version, applicant):
    features = dict(applicant, age_years=200, housing="boat")
    del features["purpose"]
    response = post(integration, {"model": "credit-risk", "subject_ref": "", "features": features})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"subject_ref"}  # request shape is checked before the schema
    response = post(integration, {"model": "credit-risk", "subject_ref": "s", "features": features})
    assert set(response.json()["errors"]["features"]) == {"age_years", "housing", "purpose"}


UNKNOWN = (
    "unknown field; a decision has model, model_version, subject_ref, reference, features "
    "(and score, contributions, base_value for an external scorer, assisted for a person's decision)"
)


def test_a_field_that_is_not_a_decisions_is_refused_with_the_other_errors(
    integration, credit_version, applicant
):
    response = post(integration, body(applicant, refrence="loan-42"))
    assert response.status_code == 400
    assert response.json()["errors"] == {"refrence": UNKNOWN}
    response = post(integration, body(applicant, refrence="loan-42", subject_ref=""))
    assert set(response.json()["errors"]) == {"refrence", "subject_ref"}
    assert Decision.objects.count() == 0


def test_a_bulk_item_with_a_field_that_is_not_a_decisions_refuses_the_whole_request(
    integration, credit_version, credit_trained
):
    items = [body(row, subject_ref=f"s-{i}") for i, row in enumerate(credit_trained.sample_rows[:3])]
    items[1]["refrence"] = "loan-42"
    response = integration.post(URL + "bulk/", data={"decisions": items}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["decisions"] == {"1": {"refrence": UNKNOWN}}
    del items[1]["refrence"]
    response = integration.post(URL + "bulk/", data={"decisions": items, "atomic": False}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"atomic": "unknown field; a bulk request has only decisions"}
    assert Decision.objects.count() == 0


def test_unknown_model_and_version_refused(integration, credit_version, applicant):
    response = post(integration, body(applicant, model="no-such-model"))
    assert response.status_code == 400 and "no-such-model" in response.json()["errors"]["model"]
    response = post(integration, body(applicant, model_version="9.9"))
    assert "credit-risk@9.9" in response.json()["errors"]["model_version"]
    assert Decision.objects.count() == 0


def test_features_not_an_object_refused(integration, credit_version):
    response = post(integration, {"model": "credit-risk", "subject_ref": "s", "features": [1, 2]})
    assert response.status_code == 400
    assert "must be an object" in response.json()["errors"]["features"]["features"]


@pytest.mark.parametrize("header", [None, "Api-Key rk_wrong_key", "Bearer abc", "Api-Key "])
def test_missing_or_wrong_api_key_refused(client, credit_version, applicant, header):
    kwargs = {"HTTP_AUTHORIZATION": header} if header else {}
    response = post(client, body(applicant), **kwargs)
    assert response.status_code in (401, 403)
    assert Decision.objects.count() == 0


def test_revoked_api_key_refused(integration, credit_version, applicant, api_key):
    from audit.services import Actor
    from decisions.accounts import api_key_revoke

    api_key_revoke(key=api_key, actor=Actor.system("tests"))
    response = post(integration, body(applicant))
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid or revoked API key"


def test_staff_sessions_cannot_record(credit_version, applicant, caseworker, auditor):
    for user in (caseworker, auditor):
        assert post(client_for(user), body(applicant)).status_code == 403
    assert Decision.objects.count() == 0


def test_idempotent_retry_returns_first_result(integration, credit_version, applicant):
    key = str(uuid.uuid4())
    first = post(integration, body(applicant), HTTP_IDEMPOTENCY_KEY=key)
    second = post(integration, body(applicant), HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Decision.objects.count() == 1
    # The stored replay does not reveal the subject's token in clear.
    record = IdempotencyRecord.objects.get()
    token = first.json()["subject_access_url"].rstrip("/").rsplit("/", 1)[1]
    assert token not in json.dumps(record.response)


def test_same_key_different_body_refused(integration, credit_version, applicant):
    key = str(uuid.uuid4())
    assert post(integration, body(applicant), HTTP_IDEMPOTENCY_KEY=key).status_code == 201
    response = post(integration, body(applicant, subject_ref="someone-else"), HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["errors"]
    assert Decision.objects.count() == 1


@pytest.mark.parametrize("key", ["", "   "])
def test_an_empty_idempotency_key_is_refused_and_records_nothing(integration, credit_version, applicant, key):
    response = post(integration, body(applicant), HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert response.json()["errors"] == {"Idempotency-Key": "a non-empty key, or no header at all"}
    assert Decision.objects.count() == 0


def test_failed_request_does_not_burn_the_key(integration, credit_version, applicant):
    key = str(uuid.uuid4())
    assert post(integration, body({**applicant, "age_years": 5}), HTTP_IDEMPOTENCY_KEY=key).status_code == 400
    assert IdempotencyRecord.objects.count() == 0


# 3: one statement for decisions and explanations (a few rows); 25: bulk_create, then theirs.
@pytest.mark.parametrize("n", [3, 25])
def test_bulk_records_all(integration, credit_version, credit_trained, n):
    rows = credit_trained.sample_rows[:n]
    payload = {"decisions": [body(r, subject_ref=f"s-{i}") for i, r in enumerate(rows)]}
    response = integration.post(URL + "bulk/", data=json.dumps(payload), content_type="application/json")
    assert response.status_code == 201
    data = response.json()
    assert data["count"] == n and len({d["id"] for d in data["decisions"]}) == n
    assert [d["subject_ref"] for d in data["decisions"]] == [f"s-{i}" for i in range(n)]
    # Each decision has its own pending explanation, queued in request order.
    pending = list(Explanation.objects.order_by("id").values_list("decision_id", "status", "is_current"))
    assert pending == [(uuid.UUID(d["id"]), "pending", True) for d in data["decisions"]]
    # Scores equal per-row predictions of the same model.
    schema = FeatureSchema.from_dict(credit_version.feature_schema)
    booster = xgb.Booster()
    booster.load_model(bytearray(bytes(credit_version.artifact)))
    expected = booster.predict(xgb.DMatrix(schema.encode(rows)))
    got = np.array([d["score"] for d in data["decisions"]])
    np.testing.assert_allclose(got, expected, atol=1e-7)
    assert AuditEvent.objects.filter(action=Action.DECISION_RECORDED).count() == n
    assert verify_chain().ok


# 3: the key's record is written in the decisions' statement; 25: in their transaction.
@pytest.mark.parametrize("n", [3, 25])
def test_a_keyed_bulk_retry_returns_the_first_result_and_records_nothing_more(
    integration, credit_version, credit_trained, n
):
    payload = {
        "decisions": [body(r, subject_ref=f"s-{i}") for i, r in enumerate(credit_trained.sample_rows[:n])]
    }
    key = str(uuid.uuid4())

    def send():
        return integration.post(
            URL + "bulk/", data=json.dumps(payload), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
        )

    first, second = send(), send()
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"
    assert first.json()["count"] == n and Decision.objects.count() == n
    assert IdempotencyRecord.objects.get().key == key
    assert AuditEvent.objects.filter(action=Action.DECISION_RECORDED).count() == n


def test_a_bulk_stores_every_column_as_a_single_decision_does(
    integration, credit_version, credit_trained, api_key
):
    """25 decisions are written with COPY, one with a single INSERT statement: the same row
    comes out of both, column by column, but for what is each decision's own."""
    from django.conf import settings

    from decisions.credentials import secret_hash

    rows = credit_trained.sample_rows[:25]
    payload = {"decisions": [body(r, subject_ref=f"s-{i}", reference=f"r-{i}") for i, r in enumerate(rows)]}
    bulk = integration.post(URL + "bulk/", data=json.dumps(payload), content_type="application/json").json()
    single = post(integration, body(rows[7], subject_ref="s-7", reference="r-7")).json()
    own = {"id", "decided_at", "access_token_hash", "access_expires_at"}
    own |= {"features_key", "features_commitment"}
    copied, inserted = (Decision.objects.get(pk=d["id"]) for d in (bulk["decisions"][7], single))
    # Each its own key, and the same features committed to under it.
    for d in (copied, inserted):
        assert d.features_commitment == features_commitment(key=bytes(d.features_key), features=d.features)
    columns = [f.attname for f in Decision._meta.concrete_fields if f.attname not in own]
    assert [getattr(copied, c) for c in columns] == [getattr(inserted, c) for c in columns]
    assert copied.api_key_id == api_key.pk and copied.features == rows[7]
    for d in bulk["decisions"]:
        stored = Decision.objects.get(pk=d["id"])
        token = d["subject_access_url"].rstrip("/").rsplit("/", 1)[1]
        assert stored.access_token_hash == secret_hash(token)
        assert stored.decided_at.isoformat() == d["decided_at"]
        assert stored.access_expires_at - stored.decided_at == timedelta(days=settings.SUBJECT_ACCESS_DAYS)
    assert APIClient().get(bulk["decisions"][3]["subject_access_url"], follow=True).status_code == 200


def test_a_bulk_of_the_largest_size_allowed_is_stored_in_order(integration, credit_version, credit_trained):
    """BULK_MAX_DECISIONS (5,000) decisions in one request, a body larger than Django's default
    limit of 2.5 MB: every one stored, in request order, with its pending explanation and its
    chained audit event."""
    n = settings.BULK_MAX_DECISIONS
    rows = credit_trained.sample_rows
    payload = {"decisions": [body(rows[i % len(rows)], subject_ref=f"s-{i}") for i in range(n)]}
    content = json.dumps(payload)
    assert len(content) > 2_621_440
    response = integration.post(URL + "bulk/", data=content, content_type="application/json")
    assert response.status_code == 201, response.content[:500]
    returned = response.json()["decisions"]
    stored = dict(Decision.objects.values_list("id", "subject_ref"))
    assert len(stored) == n
    assert [stored[uuid.UUID(d["id"])] for d in returned] == [f"s-{i}" for i in range(n)]
    assert Decision.objects.get(id=returned[1100]["id"]).features == rows[1100 % len(rows)]
    assert Explanation.objects.filter(status="pending", is_current=True).count() == n
    assert AuditEvent.objects.filter(action=Action.DECISION_RECORDED).count() == n
    assert verify_chain().ok


def test_one_more_than_the_largest_bulk_is_refused_and_records_nothing(
    integration, credit_version, applicant
):
    payload = {
        "decisions": [body(applicant, subject_ref=f"s-{i}") for i in range(settings.BULK_MAX_DECISIONS + 1)]
    }
    response = integration.post(URL + "bulk/", data=json.dumps(payload), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"decisions": f"at most {settings.BULK_MAX_DECISIONS} per request"}
    assert not Decision.objects.exists()


@pytest.mark.parametrize("path", ["", "bulk/"])
def test_a_body_over_the_size_limit_is_a_413_naming_it_and_records_nothing(
    integration, credit_version, applicant, settings, path
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 20_000
    one = body(applicant)
    data = {"decisions": [one] * 40} if path else {**one, "reference": "x" * 30_000}
    response = integration.post(URL + path, data=json.dumps(data), content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "20,000 bytes" in response.json()["detail"]
    assert not Decision.objects.exists()


def test_bulk_is_all_or_nothing(integration, credit_version, credit_trained):
    rows = [dict(r) for r in credit_trained.sample_rows[:5]]
    rows[3]["age_years"] = -1
    payload = {"decisions": [body(r, subject_ref=f"s-{i}") for i, r in enumerate(rows)]}
    payload["decisions"][1].pop("subject_ref")
    response = integration.post(URL + "bulk/", data=json.dumps(payload), content_type="application/json")
    assert response.status_code == 400
    errors = response.json()["errors"]["decisions"]
    assert set(errors) == {"1", "3"}
    assert "age_years" in errors["3"]["features"] and "subject_ref" in errors["1"]
    assert Decision.objects.count() == 0 and Explanation.objects.count() == 0


def test_bulk_refuses_empty(integration, credit_version):
    response = integration.post(URL + "bulk/", data={"decisions": []}, format="json")
    assert response.status_code == 400 and "decisions" in response.json()["errors"]


def test_read_by_id(integration, credit_version, applicant, auditor, nobody):
    created = post(integration, body(applicant)).json()
    response = integration.get(f"{URL}{created['id']}/")
    assert response.status_code == 200
    data = response.json()
    assert data["id"] == created["id"] and data["score"] == created["score"]
    assert "subject_access_url" not in data  # shown once, at creation
    assert client_for(auditor).get(f"{URL}{created['id']}/").json()["id"] == created["id"]
    assert client_for(nobody).get(f"{URL}{created['id']}/").status_code == 403
    assert integration.get(f"{URL}{uuid.uuid4()}/").status_code == 404


def test_list_filters_and_paginates(integration, credit_version, credit_trained):
    rows = credit_trained.sample_rows[:6]
    payload = {"decisions": [body(r, subject_ref=f"s-{i % 2}") for i, r in enumerate(rows)]}
    created = integration.post(URL + "bulk/", data=payload, format="json").json()["decisions"]
    page = integration.get(URL, {"subject_ref": "s-1", "page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    rest = integration.get(page["next"]).json()
    ids = {d["id"] for d in page["results"] + rest["results"]}
    assert ids == {d["id"] for d in created if d["subject_ref"] == "s-1"}
    refused = [d for d in created if d["outcome"] == "refused"]
    listed = integration.get(URL, {"outcome": "refused", "page_size": 50}).json()["results"]
    assert {d["id"] for d in listed} == {d["id"] for d in refused}


def test_list_filters_on_favourable_and_refuses_a_value_it_cannot_read(
    integration, credit_version, credit_trained
):
    payload = {"decisions": [body(r) for r in credit_trained.sample_rows[:8]]}
    created = integration.post(URL + "bulk/", data=payload, format="json").json()["decisions"]
    by_favourable = {flag: {d["id"] for d in created if d["favourable"] is flag} for flag in (True, False)}
    assert by_favourable[True] and by_favourable[False]  # the sample has both
    for value, flag in (("true", True), ("false", False), ("1", True), ("0", False)):
        listed = integration.get(URL, {"favourable": value, "page_size": 50}).json()["results"]
        assert {d["id"] for d in listed} == by_favourable[flag], value
    # Not read as "no filter", which would answer every decision.
    response = integration.get(URL, {"favourable": "maybe"})
    assert response.status_code == 400
    assert "favourable" in response.json()["errors"]


def test_list_filters_on_status(integration, credit_version, credit_trained):
    payload = {"decisions": [body(r) for r in credit_trained.sample_rows[:3]]}
    created = integration.post(URL + "bulk/", data=payload, format="json").json()["decisions"]
    Decision.objects.filter(pk=created[0]["id"]).update(status=Decision.Status.PENDING_REVIEW)
    listed = integration.get(URL, {"status": "pending_review"}).json()["results"]
    assert [d["id"] for d in listed] == [created[0]["id"]] and listed[0]["status"] == "pending_review"
    assert len(integration.get(URL, {"status": "final"}).json()["results"]) == 2
    assert "status" in integration.get(URL, {"status": "maybe"}).json()["errors"]


@pytest.mark.parametrize("n", [1, 3])
def test_list_has_no_n_plus_one(integration, credit_version, credit_trained, django_assert_num_queries, n):
    payload = {"decisions": [body(r) for r in credit_trained.sample_rows[:n]]}
    integration.post(URL + "bulk/", data=payload, format="json")
    # api key lookup, decisions page (with version and model joined), current explanations,
    # and the one personal_data.read event of the page (chain lock, insert)
    with django_assert_num_queries(5):
        response = integration.get(URL)
    assert len(response.json()["results"]) == n


def test_models_listed(integration, credit_version):
    data = integration.get("/api/v1/models/").json()
    assert [m["model"] for m in data] == ["credit-risk"]
    assert data[0]["artifact_sha256"] == credit_version.artifact_sha256
    assert any(f["protected"] for f in data[0]["feature_schema"]["features"])


def test_openapi_schema_and_docs(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/decisions/" in schema["paths"] and "/api/v1/decisions/bulk/" in schema["paths"]
    assert "post" in schema["paths"]["/api/v1/models/"]
    assert client.get("/api/docs/").status_code == 200


def test_a_model_returning_nan_records_nothing_and_says_so(integration, digits_trained):
    """A broken model is not the client's fault (503), and no NaN score reaches the ledger."""
    import os
    import tempfile

    import keras

    from tests.conftest import register

    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    dense = model.layers[-1]
    dense.set_weights([np.full(w.shape, np.nan, dtype=np.float32) for w in dense.get_weights()])
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.keras")
        model.save(path)
        with open(path, "rb") as fh:
            artifact = fh.read()
    rejected = register(digits_trained, version="nan-1", artifact=artifact)
    assert rejected.status == "rejected"
    assert rejected.checks["reasons"] == ["output: the model returns NaN or infinity on the background"]
    # A model may pass on its background and still fail on a live row: the recording path
    # guards itself. This version's verdict is recorded as passed to reach that path.
    from audit.services import Actor
    from decisions.lifecycle import model_version_set_status
    from decisions.registration import model_version_checked

    live = register(digits_trained, version="nan-2", artifact=artifact, checked=False)
    model_version_checked(version=live, reasons=[], report={}, actor=Actor.system("tests"))
    model_version_set_status(version=live, status="active", actor=Actor.system("tests"))
    data = {
        "model": "digit-reader",
        "model_version": "nan-2",
        "subject_ref": "d-1",
        "features": digits_trained.sample_rows[0],
    }
    response = post(integration, data)
    assert response.status_code == 503, response.content
    assert "non-finite score for 1 of 1 decisions" in response.json()["errors"]["model"]
    assert Decision.objects.count() == 0 and Explanation.objects.count() == 0
    assert not AuditEvent.objects.filter(action=Action.DECISION_RECORDED).exists()


def test_an_api_key_asking_for_html_gets_the_browsable_api(integration, credit_version, applicant):
    """DRF renders its browsable API for Accept: text/html; the page's navigation must not
    treat the key as a user (it has no groups)."""
    post(integration, body(applicant))
    response = integration.get(URL, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"subj-001" in response.content
