from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "dashboards"
    verbose_name = "Dashboards"

    def ready(self) -> None:
        # the "margin_rollups" job handler, and its refresh after each reconciliation run
        from dashboards import signals  # noqa: F401
        from dashboards.services import rollups  # noqa: F401
