from django.apps import AppConfig


class ClinicalConfig(AppConfig):
    name = "clinical"
    verbose_name = "Clinical services"

    def ready(self) -> None:
        from adherence.services.history import cmr_source_register, immunization_source_register
        from clinical.encounter_selectors import signed_cmrs
        from clinical.selectors import immunization_doses
        from clinical.services import immunization_import  # noqa: F401  (registers the kind)

        # recorded immunizations are care-gap history for the adherence worklist build
        immunization_source_register(immunization_doses)
        # signed CMRs close the patient's CMR gap at the next build
        cmr_source_register(signed_cmrs)
