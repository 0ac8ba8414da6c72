from django.urls import path

from clinical import contract_urls, encounter_views, registry_urls, views

app_name = "clinical"
urlpatterns = [
    path("", encounter_views.home, name="index"),
    path("immunizations/", views.index, name="immunizations"),
    path(
        "patients/<int:patient_id>/immunizations/new/",
        views.immunization_new,
        name="immunization_new",
    ),
    path(
        "patients/<int:patient_id>/encounters/new/",
        encounter_views.encounter_new,
        name="encounter_new",
    ),
    path("patients/<int:patient_id>/tests/new/", encounter_views.poc_test_new, name="poc_test_new"),
    path("encounters/", encounter_views.encounter_list, name="encounters"),
    path("encounters/<int:encounter_id>/", encounter_views.encounter, name="encounter"),
    path(
        "encounters/<int:encounter_id>/autosave/",
        encounter_views.encounter_autosave,
        name="encounter_autosave",
    ),
    path(
        "encounters/<int:encounter_id>/sign/",
        encounter_views.encounter_sign_view,
        name="encounter_sign",
    ),
    path(
        "encounters/<int:encounter_id>/amend/",
        encounter_views.encounter_amend_view,
        name="encounter_amend",
    ),
    path(
        "encounters/<int:encounter_id>/discard/",
        encounter_views.encounter_discard_view,
        name="encounter_discard",
    ),
    path(
        "encounters/<int:encounter_id>/take-away/",
        encounter_views.encounter_takeaway,
        name="encounter_takeaway",
    ),
    path(
        "encounters/<int:encounter_id>/take-away.pdf",
        encounter_views.encounter_takeaway_pdf,
        name="encounter_takeaway_pdf",
    ),
    path("revenue/", encounter_views.revenue, name="revenue"),
    path("revenue/claims/<int:claim_id>/", encounter_views.claim_update, name="claim_update"),
]
urlpatterns += registry_urls.urlpatterns + contract_urls.urlpatterns
