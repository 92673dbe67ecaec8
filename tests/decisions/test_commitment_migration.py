"""The data step of decisions migration 0016: decisions recorded before keyed commitments get a key
and a commitment; erased ones lose the unsalted digest they carried."""

import hashlib
import importlib
import json

import pytest
from django.apps import apps
from django.utils import timezone

from decisions.commitments import features_commitment
from decisions.models import Decision
from tests.oversight.lending import decide

pytestmark = pytest.mark.django_db
migration = importlib.import_module("decisions.migrations.0016_features_commitment")


def unsalted(features) -> str:
    return hashlib.sha256(json.dumps(features, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def test_old_decisions_are_committed_under_new_keys_and_erased_ones_keep_no_digest(
    credit_version, monkeypatch
):
    monkeypatch.setattr(migration, "BATCH", 2)  # several batches
    kept = [decide(credit_version, {"age": 30 + i}, favourable=True) for i in range(3)]
    erased = decide(credit_version, {"age": 77}, favourable=False)
    # As 0015 left them: the unsalted digest, no key; the erased one's digest outlived its features.
    for d in kept:
        Decision.objects.filter(pk=d.pk).update(features_key=None, features_commitment=unsalted(d.features))
    Decision.objects.filter(pk=erased.pk).update(
        features={},
        features_key=None,
        features_commitment=unsalted({"age": 77}),
        personal_data_erased_at=timezone.now(),
    )

    migration.commit(apps, None)

    for d in Decision.objects.filter(pk__in=[d.pk for d in kept]):
        key = bytes(d.features_key)
        assert d.features_commitment == features_commitment(key=key, features=d.features)
        assert d.features_commitment != unsalted(d.features)
    assert len({bytes(d.features_key) for d in Decision.objects.filter(pk__in=[d.pk for d in kept])}) == 3
    gone = Decision.objects.get(pk=erased.pk)
    assert (gone.features_key, gone.features_commitment) == (None, "")
