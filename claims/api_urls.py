from django.urls import path

from claims import api, imports_web

urlpatterns = [
    path("patients/", api.PatientList.as_view(), name="patient-list"),
    path("patients/<int:pk>/", api.PatientDetail.as_view(), name="patient-detail"),
    path("fills/", api.FillPush.as_view(), name="fill-push"),
    path("fills/bulk/", api.FillBulkPush.as_view(), name="fill-bulk-push"),
    path("fills/reversals/", api.FillReversalPush.as_view(), name="fill-reversal-push"),
    path("imports/", imports_web.ImportCreate.as_view(), name="import-create"),
    path("imports/<int:pk>/", imports_web.ImportDetail.as_view(), name="import-detail"),
    path("imports/<int:pk>/errors/", imports_web.ImportErrors.as_view(), name="import-errors"),
]
