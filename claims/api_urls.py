from django.urls import path

from claims import api

urlpatterns = [
    path("patients/", api.PatientList.as_view(), name="patient-list"),
    path("patients/<int:pk>/", api.PatientDetail.as_view(), name="patient-detail"),
]
