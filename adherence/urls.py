from django.urls import path

from adherence import views

app_name = "adherence"
urlpatterns = [
    path("", views.index, name="index"),
    path("rebuild/", views.rebuild, name="rebuild"),
    path("worklist/<str:kind>/", views.worklist, name="worklist"),
    path("refill-queue/", views.refill_queue, name="refill_queue"),
    path("items/<int:item_id>/outreach/", views.outreach, name="outreach"),
    path("patients/<int:patient_id>/", views.patient_card, name="patient_card"),
    path("patients/<int:patient_id>/gap-reasons/", views.gap_reason_add, name="gap_reason_add"),
    path("patients/<int:patient_id>/sync/", views.sync_enroll_view, name="sync_enroll"),
    path("patients/<int:patient_id>/sync/preview/", views.sync_preview, name="sync_preview"),
    path("patients/<int:patient_id>/sync/stop/", views.sync_stop, name="sync_stop"),
    path("locations/<int:location_id>/", views.location_panel, name="location_panel"),
]
