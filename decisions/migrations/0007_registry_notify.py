"""PostgreSQL announces every committed change to the registry's tables (API keys, models,
model versions) on the channel `rationale_registry`, which each web connection LISTENs on to
drop its cache of those rows (config.postgresql, decisions.registry).

A statement-level trigger: one notification per statement and table, and PostgreSQL folds
identical notifications of one transaction into one. Nothing on SQLite (the demo), whose
connections keep no such cache.
"""

from django.db import migrations

CHANNEL = "rationale_registry"  # config.postgresql.REGISTRY_CHANNEL
TABLES = ("decisions_apikey", "decisions_decisionmodel", "decisions_modelversion")

FUNCTION = f"""
CREATE OR REPLACE FUNCTION rationale_registry_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER rationale_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {schema_editor.quote_name(table)} FOR EACH STATEMENT EXECUTE FUNCTION rationale_registry_changed()",
            params=None,
        )


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(
            f"DROP TRIGGER IF EXISTS rationale_registry_changed ON {schema_editor.quote_name(table)}", params=None
        )
    schema_editor.execute("DROP FUNCTION IF EXISTS rationale_registry_changed()", params=None)


class Migration(migrations.Migration):
    dependencies = [("decisions", "0006_decision_indexes")]
    operations = [migrations.RunPython(forward, backward)]
