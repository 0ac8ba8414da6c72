from django.apps import AppConfig


class ClinicalConfig(AppConfig):
    name = "clinical"
    verbose_name = "Clinical services"

    def ready(self) -> None:
        # recorded immunizations are care-gap history for the adherence worklist build
        from adherence.services.history import immunization_source_register
        from clinical.selectors import immunization_doses

        immunization_source_register(immunization_doses)
