from django.urls import path

from reconciliation import api

urlpatterns = [
    path("remittances/", api.RemittanceList.as_view(), name="remittance-list"),
    path("remittances/<int:pk>/", api.RemittanceDetail.as_view(), name="remittance-detail"),
]
