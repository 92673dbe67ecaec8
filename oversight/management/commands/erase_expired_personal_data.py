from django.core.management.base import BaseCommand

from oversight.retention import retention_erase_expired


class Command(BaseCommand):
    help = "Erase personal data of decisions past their model version's retention (beat runs this hourly)."

    def handle(self, *args, **options):
        result = retention_erase_expired()
        self.stdout.write(
            f"erased {result['decisions']} decisions, {result['explanations']} explanations, "
            f"{result['review_requests']} review requests in {result['batches']} batches"
        )
