from django.apps import AppConfig


class RxRevOpsConfig(AppConfig):
    name = "rxrevops"
    verbose_name = "Platform"

    def ready(self) -> None:
        from rxrevops import signals  # noqa: F401  (login/logout audit receivers)
