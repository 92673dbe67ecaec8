"""One round trip for the chain lock and the head it guards (PostgreSQL).

`rationale_audit_lock_head(key)` takes the chain's transaction-scoped advisory lock, then reads
the head. A VOLATILE function takes a fresh snapshot for each statement it runs (READ COMMITTED),
so the read sees the head that the lock's previous holder committed. A single plain statement
could not: its snapshot would predate the wait for the lock. Until stop 9 these were two
statements, each a round trip of every recorded decision.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION rationale_audit_lock_head(lock_key bigint) RETURNS varchar
VOLATILE LANGUAGE plpgsql AS $$
DECLARE
    head varchar;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT hash INTO head FROM audit_auditevent ORDER BY id DESC LIMIT 1;
    RETURN head;
END;
$$;
"""
BACKWARD = "DROP FUNCTION IF EXISTS rationale_audit_lock_head(bigint);"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_export_heartbeat")]
    operations = [migrations.RunPython(forward, backward)]
