from django.apps import AppConfig


class DecisionsConfig(AppConfig):
    name = "decisions"
    verbose_name = "Decisions"

    def ready(self) -> None:
        # The schema's security schemes, and the receivers that audit user and role changes.
        from . import openapi, receivers  # noqa: F401
