from django.urls import path

from clinical import contract_urls, registry_urls, views

app_name = "clinical"
urlpatterns = [
    path("", views.index, name="index"),
    path(
        "patients/<int:patient_id>/immunizations/new/",
        views.immunization_new,
        name="immunization_new",
    ),
]
urlpatterns += registry_urls.urlpatterns + contract_urls.urlpatterns
