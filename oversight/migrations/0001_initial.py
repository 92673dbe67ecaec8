# The Export model, taken over from `audit` (its migration 0008) with its table as it is: only
# Django's record of the model changes, and its content type follows it.

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def move_content_type(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    if not content_type.objects.filter(app_label="oversight", model="export").exists():
        content_type.objects.filter(app_label="audit", model="export").update(app_label="oversight")


def restore_content_type(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    if not content_type.objects.filter(app_label="audit", model="export").exists():
        content_type.objects.filter(app_label="oversight", model="export").update(app_label="audit")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("audit", "0008_export_moved"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Export",
                    fields=[
                        ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("kind", models.CharField(choices=[("decisions", "Decisions with explanations and review outcomes"), ("events", "Audit events"), ("record_of_processing", "Art. 30 record of processing")], max_length=32)),
                        ("format", models.CharField(choices=[("jsonl", "JSON Lines"), ("csv", "CSV")], max_length=8)),
                        ("mode", models.CharField(choices=[("stream", "Streamed to the browser"), ("file", "Written to a file by a worker")], max_length=8)),
                        ("filters", models.JSONField(blank=True, default=dict)),
                        ("status", models.CharField(choices=[("pending", "Pending"), ("running", "Running"), ("done", "Done"), ("failed", "Failed")], default="pending", max_length=16)),
                        ("rows_expected", models.BigIntegerField(blank=True, null=True)),
                        ("rows_written", models.BigIntegerField(default=0)),
                        ("file_name", models.CharField(blank=True, max_length=200)),
                        ("size_bytes", models.BigIntegerField(blank=True, null=True)),
                        ("sha256", models.CharField(blank=True, max_length=64)),
                        ("manifest", models.JSONField(blank=True, null=True)),
                        ("error", models.TextField(blank=True)),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("heartbeat_at", models.DateTimeField(blank=True, null=True)),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("requested_by", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "db_table": "audit_export",
                        "ordering": ["-created_at"],
                        "constraints": [models.CheckConstraint(condition=models.Q(models.Q(("status", "done"), _negated=True), models.Q(("sha256__regex", "^[0-9a-f]{64}$"), ("manifest__isnull", False)), _connector="OR"), name="export_done_has_hash_and_manifest")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, restore_content_type),
    ]
