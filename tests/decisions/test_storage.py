"""The decisions app's storage pairs write and read alike: COPY and bulk_create store the same
rows, and the narrow registry queries answer as the ORM does."""

import copy

import pytest

from audit.services import Actor
from decisions import storage
from decisions.models import ApiKey, Decision, ModelVersion
from decisions.recording import DecisionInput, decision_prepare
from tests.storage_pairs import written_by

pytestmark = pytest.mark.django_db


def test_copy_and_bulk_create_store_the_same_decisions(credit_version, credit_trained, api_key):
    items = [
        DecisionInput(model="credit-risk", subject_ref=f"s-{i}", reference=f"Zoë-{i}", features=row)
        for i, row in enumerate(credit_trained.sample_rows[:3])
    ]
    decisions = decision_prepare(items=items, actor=Actor.system("tests"), api_key=api_key).decisions

    def read():
        return list(
            Decision.objects.filter(pk__in=[d.pk for d in decisions]).order_by("subject_ref").values()
        )

    by_copy = written_by(lambda: storage.decisions_insert_postgresql(copy.deepcopy(decisions)), read)
    by_orm = written_by(lambda: storage.decisions_insert_portable(copy.deepcopy(decisions)), read)
    assert len(by_copy) == 3 and by_copy == by_orm
    assert by_copy[0]["features"] == decisions[0].features and by_copy[0]["api_key_id"] == api_key.pk


def test_the_registry_queries_answer_as_the_orm_does(credit_version, api_key):
    newest = ModelVersion.objects.filter(model__name="credit-risk", status="active").latest("created_at")
    assert storage.model_version_row("credit-risk", None) == (newest.pk, newest.created_at, "active", {})
    assert storage.model_version_row("credit-risk", credit_version.version)[0] == credit_version.pk
    assert storage.model_version_row("credit-risk", "9.9") is None
    assert storage.model_version_row("no-such-model", None) is None
    assert storage.active_api_key_id(api_key.key_hash) == api_key.pk
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at="2026-01-01T00:00:00Z")
    assert storage.active_api_key_id(api_key.key_hash) is None
