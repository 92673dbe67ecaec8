"""Fewer indexes to maintain on every recorded decision.

- The model version's own index goes: the (model_version, decided_at) index leads with the
  same column and serves every lookup by version, the foreign key's checks included.
- On PostgreSQL, the prefix-search (varchar_pattern_ops) twins Django adds to indexed and
  unique CharFields go from the access token's hash and the subject reference: both are
  looked up whole, which the plain indexes serve. `tests/audit/test_indexes.py` fails if a twin
  comes back.
"""

import django.db.models.deletion
from django.db import migrations, models

TWINS = [
    ("decisions_decision_access_token_hash_a8a56c63_like", "decisions_decision", "access_token_hash"),
    ("decisions_decision_subject_ref_988afb42_like", "decisions_decision", "subject_ref"),
]


def drop_twins(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, _table, _column in TWINS:
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def restore_twins(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        q = schema_editor.quote_name
        for name, table, column in TWINS:
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {q(name)} ON {q(table)} ({q(column)} varchar_pattern_ops)")


class Migration(migrations.Migration):

    dependencies = [("decisions", "0005_decision_order_index")]

    operations = [
        # Only the index: Django's AlterField would also drop and re-add the foreign key,
        # re-validating every decision.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="decision",
                    name="model_version",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="decisions",
                        to="decisions.modelversion",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS decisions_decision_model_version_id_2c5c2b5d",
                    "CREATE INDEX IF NOT EXISTS decisions_decision_model_version_id_2c5c2b5d "
                    "ON decisions_decision (model_version_id)",
                ),
            ],
        ),
        migrations.RunPython(drop_twins, restore_twins),
    ]
