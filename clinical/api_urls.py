from django.urls import path

from clinical import api

urlpatterns = [
    path("immunizations/", api.ImmunizationList.as_view(), name="immunization-list"),
]
