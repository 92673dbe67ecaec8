"""`manage.py check_translations [--language de]`: every label, description, unit, category label
and controller's text of the active model versions that has no translation into a configured
language (settings.LANGUAGES but the default); exit status 1 when any is missing."""

import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from decisions.models import ModelVersion
from decisions.registry import model_version_list, schema_of
from decisions.translations import missing_translations


class Command(BaseCommand):
    help = "List what the active model versions lack a translation of, per configured language."

    def add_arguments(self, parser):
        parser.add_argument("--language", help="check only this language (one of settings.LANGUAGES)")

    def handle(self, *args, language=None, **options):
        configured = [code for code, _ in settings.LANGUAGES if code != settings.LANGUAGE_CODE]
        if language is not None and language not in configured:
            raise CommandError(f"{language!r} is not a configured language: {', '.join(configured)}")
        languages = [language] if language else configured
        missing = 0
        for version in model_version_list().filter(status=ModelVersion.Status.ACTIVE):
            for code in languages:
                for item in missing_translations(schema_of(version), version, code):
                    self.stdout.write(f"{version} [{code}] {item}")
                    missing += 1
        if missing:
            self.stderr.write(f"{missing} translation(s) missing")
            sys.exit(1)
        self.stdout.write("every label, category label and text is translated")
