"""Append events to the chain in one round trip (PostgreSQL).

`rationale_audit_append(lock_key, created_at, actor_types, actor_ids, actions, object_types,
object_ids, data, bodies)` takes the chain's transaction-scoped advisory lock, reads the head,
and inserts the events in array order, each linked to the one before:
hash = sha256(prev_hash || body), where `body` is the event's canonical JSON as
`audit.services.event_body` writes it, sent as UTF-8 bytes. `verify_chain` recomputes every hash
in Python, so a function that hashed differently would fail the chain at its first event.

As in `rationale_audit_lock_head` (0005), the head is read by a statement of a VOLATILE function,
with a snapshot taken after the lock is granted. So the function may be called from inside a
larger statement: a recorded decision's row, its pending explanation and its audit event go in
one statement, its own transaction (`decisions.services`).
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION rationale_audit_append(
    lock_key bigint,
    at timestamptz,
    actor_types text[],
    actor_ids text[],
    actions text[],
    object_types text[],
    object_ids text[],
    data text[],
    bodies bytea[]
) RETURNS integer
VOLATILE LANGUAGE plpgsql AS $$
DECLARE
    head varchar;
    digest varchar;
    n integer := coalesce(array_length(bodies, 1), 0);
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT hash INTO head FROM audit_auditevent ORDER BY id DESC LIMIT 1;
    head := coalesce(head, repeat('0', 64));
    FOR i IN 1 .. n LOOP
        digest := encode(sha256(convert_to(head, 'UTF8') || bodies[i]), 'hex');
        INSERT INTO audit_auditevent
            (created_at, actor_type, actor_id, action, object_type, object_id, data, prev_hash, hash)
        VALUES
            (at, actor_types[i], actor_ids[i], actions[i], object_types[i], object_ids[i],
             data[i]::jsonb, head, digest);
        head := digest;
    END LOOP;
    RETURN n;
END;
$$;
"""
BACKWARD = "DROP FUNCTION IF EXISTS rationale_audit_append(bigint, timestamptz, text[], text[], text[], text[], text[], text[], bytea[]);"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_drop_prefix_indexes")]
    operations = [migrations.RunPython(forward, backward)]
