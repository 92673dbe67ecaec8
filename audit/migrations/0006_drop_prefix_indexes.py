"""Drop the prefix-search (varchar_pattern_ops) twins of the audit log's indexes (PostgreSQL).

Django adds such a twin to every indexed or unique CharField on PostgreSQL, for LIKE 'x%'.
Nothing searches the log by prefix: hashes, actions and object ids are looked up whole, which
the plain indexes serve. The twins only cost every recorded event three more index insertions,
the hash's twin into a random place of an index as large as the table's hashes. The plain
indexes stay; `tests/audit/test_indexes.py` fails if a twin comes back.
"""

from django.db import migrations

TWINS = [
    ("audit_auditevent_hash_d0c402da_like", "audit_auditevent", "hash"),
    ("audit_auditevent_action_2131bb77_like", "audit_auditevent", "action"),
    ("audit_auditevent_object_id_3d6dccfb_like", "audit_auditevent", "object_id"),
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, _table, _column in TWINS:
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        q = schema_editor.quote_name
        for name, table, column in TWINS:
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {q(name)} ON {q(table)} ({q(column)} varchar_pattern_ops)")


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_chain_head_function")]
    operations = [migrations.RunPython(forward, backward)]
