from django.core.management.base import BaseCommand, CommandError

from audit.chain import verify_chain


class Command(BaseCommand):
    help = "Recompute the audit hash chain and check signed checkpoints; exit 1 on the first bad event."

    def handle(self, *args, **options):
        result = verify_chain()
        if not result.ok:
            raise CommandError(result.describe())
        self.stdout.write(self.style.SUCCESS(result.describe()))
