from django.core.management.base import BaseCommand

from config.encryption import encrypted_fields, rotate_model


class Command(BaseCommand):
    help = (
        "Re-encrypt with the first of FIELD_ENCRYPTION_KEYS every encrypted value still under an older "
        "key (statements, replies, e-mail addresses), in batches. Put the new key first, run this, then "
        "remove the old key. Safe to run again: values already under the first key are left alone."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size: int, **options):
        for model, names in encrypted_fields():
            rewritten = rotate_model(model, names, batch_size=batch_size)
            self.stdout.write(f"{model._meta.label} ({', '.join(names)}): {rewritten} rows re-encrypted")
