from django.apps import AppConfig


class AdherenceConfig(AppConfig):
    name = "adherence"
    verbose_name = "Adherence and worklists"

    def ready(self) -> None:
        # registers the "worklists" job handler and the rebuild after each PMS import
        from adherence import signals  # noqa: F401
        from adherence.services import build  # noqa: F401
