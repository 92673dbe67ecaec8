"""Keyed commitments replace the unsalted sha256 of the features (decisions.commitments).

Every decision whose features are still held gets a random key and the HMAC of its features;
an erased one has no features to commit to, and its unsalted digest is blanked. Audit events are
append-only: those already written keep the `features_sha256` they hold.

The HMAC is written out here, not imported, so that this migration computes what it computed
the day it was written.
"""

import hashlib
import hmac
import json
import secrets

from django.db import migrations, models

BATCH = 2000


def _batches(Decision, fields):
    last = None
    while True:
        rows = Decision.objects.order_by("pk").only("pk", *fields)
        if last is not None:
            rows = rows.filter(pk__gt=last)
        batch = list(rows[:BATCH])
        if not batch:
            return
        yield batch
        last = batch[-1].pk


def commit(apps, schema_editor):
    Decision = apps.get_model("decisions", "Decision")
    for batch in _batches(Decision, ("features", "personal_data_erased_at")):
        for decision in batch:
            if decision.personal_data_erased_at is None:
                key = secrets.token_bytes(32)
                canonical = json.dumps(decision.features, sort_keys=True, separators=(",", ":")).encode()
                decision.features_key = key
                decision.features_commitment = hmac.new(key, canonical, hashlib.sha256).hexdigest()
            else:
                decision.features_key = None
                decision.features_commitment = ""
        Decision.objects.bulk_update(batch, ["features_key", "features_commitment"])


def uncommit(apps, schema_editor):
    """Back to the unsalted digest, where the features are still held."""
    Decision = apps.get_model("decisions", "Decision")
    for batch in _batches(Decision, ("features", "personal_data_erased_at")):
        for decision in batch:
            decision.features_commitment = (
                hashlib.sha256(
                    json.dumps(decision.features, sort_keys=True, separators=(",", ":")).encode()
                ).hexdigest()
                if decision.personal_data_erased_at is None
                else ""
            )
        Decision.objects.bulk_update(batch, ["features_commitment"])


class Migration(migrations.Migration):
    dependencies = [
        ("decisions", "0015_version_suspension"),
    ]

    operations = [
        migrations.RenameField(
            model_name="decision", old_name="features_sha256", new_name="features_commitment"
        ),
        migrations.AlterField(
            model_name="decision",
            name="features_commitment",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="decision",
            name="features_key",
            field=models.BinaryField(editable=False, null=True),
        ),
        # The pruning task deletes by age (decisions.idempotency.idempotency_prune).
        migrations.AlterField(
            model_name="idempotencyrecord",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, db_index=True),
        ),
        migrations.RunPython(commit, uncommit, elidable=False),
    ]
