from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        # job finished / exceptions found -> deliveries
        from webhooks import signals  # noqa: F401
