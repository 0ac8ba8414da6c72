from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "reconciliation"
    verbose_name = "Reconciliation"

    def ready(self) -> None:
        # registers the "x12_835" job handler and import kind
        from reconciliation import signals  # noqa: F401  (reconcile after imports)

        # the import kinds ("x12_835", "fees", "nadac", "acquisition") and the "reconcile" job
        from reconciliation.services import cost_import, fee_import, remit_import, runs  # noqa: F401
