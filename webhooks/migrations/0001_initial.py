"""Endpoints, deliveries, attempts and the dispatcher's cursor, which starts at the audit log's
head: an install does not send the history of events from before it."""

import config.encryption
import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Max


def cursor_at_head(apps, schema_editor):
    head = apps.get_model("audit", "AuditEvent").objects.aggregate(head=Max("id"))["head"] or 0
    apps.get_model("webhooks", "DispatchCursor").objects.create(pk=1, last_event_id=head)


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('audit', '0012_sso_referral_webhook_actions'),
        ('decisions', '0017_decision_referral'),
    ]

    operations = [
        migrations.CreateModel(
            name='DispatchCursor',
            fields=[
                ('id', models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ('last_event_id', models.BigIntegerField(default=0)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'constraints': [models.CheckConstraint(condition=models.Q(('id', 1)), name='webhook_cursor_one_row')],
            },
        ),
        migrations.CreateModel(
            name='Endpoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('url', models.URLField(max_length=2000)),
                ('description', models.CharField(blank=True, max_length=200)),
                ('event_types', models.JSONField(default=list)),
                ('enabled', models.BooleanField(default=True)),
                ('secret', config.encryption.EncryptedTextField()),
                ('previous_secret', config.encryption.EncryptedTextField(blank=True)),
                ('previous_secret_expires_at', models.DateTimeField(blank=True, null=True)),
                ('api_key', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='webhook_endpoints', to='decisions.apikey')),
            ],
        ),
        migrations.CreateModel(
            name='Delivery',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('audit_event_id', models.BigIntegerField()),
                ('event_type', models.CharField(max_length=40)),
                ('payload', models.JSONField()),
                ('status', models.CharField(choices=[('pending', 'Waiting for its first attempt'), ('delivered', 'Delivered (the endpoint answered 2xx)'), ('failed_retrying', 'Failed; will be tried again'), ('dead', 'Given up after the last attempt; can be replayed')], default='pending', max_length=16)),
                ('attempts', models.PositiveSmallIntegerField(default=0, help_text='attempts since created or replayed')),
                ('replays', models.PositiveSmallIntegerField(default=0)),
                ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
                ('delivered_at', models.DateTimeField(blank=True, null=True)),
                ('claim', models.CharField(blank=True, max_length=64)),
                ('claimed_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('endpoint', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='deliveries', to='webhooks.endpoint')),
            ],
        ),
        migrations.CreateModel(
            name='Attempt',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('replay', models.PositiveSmallIntegerField(default=0, help_text="the delivery's replay round")),
                ('number', models.PositiveSmallIntegerField(help_text='1 for the first attempt of the round')),
                ('at', models.DateTimeField()),
                ('status_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('error', models.CharField(blank=True, max_length=200)),
                ('duration_ms', models.FloatField()),
                ('delivery', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attempt_rows', to='webhooks.delivery')),
            ],
            options={
                'ordering': ['id'],
                'constraints': [models.UniqueConstraint(fields=('delivery', 'replay', 'number'), name='webhook_attempt_once')],
            },
        ),
        migrations.AddIndex(
            model_name='endpoint',
            index=models.Index(fields=['api_key', 'enabled'], name='webhook_endpoint_key'),
        ),
        migrations.AddIndex(
            model_name='delivery',
            index=models.Index(condition=models.Q(('status__in', ['pending', 'failed_retrying'])), fields=['next_attempt_at'], name='webhook_delivery_due'),
        ),
        migrations.AddIndex(
            model_name='delivery',
            index=models.Index(fields=['endpoint', 'status', '-id'], name='webhook_delivery_endpoint'),
        ),
        migrations.AddConstraint(
            model_name='delivery',
            constraint=models.UniqueConstraint(fields=('endpoint', 'audit_event_id'), name='webhook_delivery_once'),
        ),
        migrations.RunPython(cursor_at_head, migrations.RunPython.noop),
    ]
