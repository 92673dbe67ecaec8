"""Contributions stored as {"feature": value}: labels and flags are read from the schema.

Existing rows are rewritten in place. On PostgreSQL the table also keeps rows of up to 8 kB
inline and uncompressed (toast_tuple_target): an explanation is written once and read often,
and compressing each ~2 kB row on write was most of the database's cost per explanation.
"""

from django.db import migrations, models

BATCH = 2000


def to_mapping(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # In the database: a Python loop would take minutes over millions of rows.
        schema_editor.execute(
            "UPDATE explanations_explanation SET contributions = (SELECT coalesce(jsonb_object_agg("
            "c->>'feature', (c->>'contribution')::float8), '{}'::jsonb) FROM jsonb_array_elements(contributions) c) "
            "WHERE jsonb_typeof(contributions) = 'array'"
        )
        return
    Explanation = apps.get_model("explanations", "Explanation")
    rows = Explanation.objects.only("id", "contributions").order_by("id")
    changed = []
    for row in rows.iterator(chunk_size=BATCH):
        if isinstance(row.contributions, list):
            row.contributions = {c["feature"]: float(c["contribution"]) for c in row.contributions}
            changed.append(row)
        if len(changed) >= BATCH:
            Explanation.objects.bulk_update(changed, ["contributions"])
            changed = []
    if changed:
        Explanation.objects.bulk_update(changed, ["contributions"])


def to_list(apps, schema_editor):
    Explanation = apps.get_model("explanations", "Explanation")
    changed = []
    for row in Explanation.objects.only("id", "contributions").order_by("id").iterator(chunk_size=BATCH):
        if isinstance(row.contributions, dict):
            row.contributions = [{"feature": k, "contribution": v} for k, v in row.contributions.items()]
            changed.append(row)
    Explanation.objects.bulk_update(changed, ["contributions"], batch_size=BATCH)


def keep_rows_inline(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE explanations_explanation SET (toast_tuple_target = 8160)")


def default_toasting(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE explanations_explanation RESET (toast_tuple_target)")


class Migration(migrations.Migration):
    dependencies = [("explanations", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="explanation",
            name="contributions",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(to_mapping, to_list),
        migrations.RunPython(keep_rows_inline, default_toasting),
    ]
