from django.urls import path

from clinical import api, encounter_api

urlpatterns = [
    path("immunizations/", api.ImmunizationList.as_view(), name="immunization-list"),
    path("mtm/encounters/", encounter_api.EncounterList.as_view(), name="mtm-encounter-list"),
    path(
        "mtm/encounters/<int:pk>/",
        encounter_api.EncounterDetail.as_view(),
        name="mtm-encounter-detail",
    ),
]
