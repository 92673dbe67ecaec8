from django.core.management.base import BaseCommand

from audit.chain import checkpoint_sign


class Command(BaseCommand):
    help = "Sign a checkpoint of the audit chain's current head (beat does this every minute)."

    def handle(self, *args, **options):
        checkpoint = checkpoint_sign()
        if checkpoint is None:
            self.stdout.write("nothing new to checkpoint")
        else:
            self.stdout.write(f"signed checkpoint: {checkpoint.size} events, head {checkpoint.head_hash}")
