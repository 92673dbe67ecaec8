"""What people write, encrypted at rest (config.encryption): statements, replies (kept in
CaseAction.rationale) and e-mail addresses.

Existing values are encrypted while the columns are still plain text, in batches; then the
fields become EncryptedTextField, whose column is the same text type. Reversing decrypts them.
"""

from django.db import migrations, models

import config.encryption

BATCH = 1000
FIELDS = {"ReviewRequest": ["statement", "contact_email"], "CaseAction": ["rationale"]}


def _convert(apps, convert) -> None:
    for name, fields in FIELDS.items():
        model = apps.get_model("reviews", name)
        last = None
        while True:
            rows = model.objects.order_by("pk").only("pk", *fields)
            if last is not None:
                rows = rows.filter(pk__gt=last)
            batch = list(rows[:BATCH])
            if not batch:
                break
            last = batch[-1].pk
            for row in batch:
                for field in fields:
                    setattr(row, field, convert(getattr(row, field)))
            model.objects.bulk_update(batch, fields)


def encrypt(apps, schema_editor):
    _convert(apps, config.encryption.encrypt)


def decrypt(apps, schema_editor):
    _convert(apps, config.encryption.decrypt)


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0002_rectification"),
    ]

    operations = [
        # A token is longer than the 254 characters an address column held.
        migrations.AlterField(
            model_name="reviewrequest", name="contact_email", field=models.TextField(blank=True)
        ),
        migrations.RunPython(encrypt, decrypt, elidable=False),
        migrations.AlterField(
            model_name="reviewrequest",
            name="statement",
            field=config.encryption.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name="reviewrequest",
            name="contact_email",
            field=config.encryption.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name="caseaction",
            name="rationale",
            field=config.encryption.EncryptedTextField(blank=True),
        ),
    ]
