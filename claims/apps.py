from django.apps import AppConfig


class ClaimsConfig(AppConfig):
    name = "claims"
    verbose_name = "Claims and dispensing"

    def ready(self) -> None:
        from claims.services import pms_import  # noqa: F401  (registers the "pms" job handler)
