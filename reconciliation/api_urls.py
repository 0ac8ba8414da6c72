from django.urls import path

from reconciliation import api, workbench_api

urlpatterns = [
    path("remittances/", api.RemittanceList.as_view(), name="remittance-list"),
    path("remittances/<int:pk>/", api.RemittanceDetail.as_view(), name="remittance-detail"),
    path(
        "reconciliation/claims/",
        workbench_api.ClaimResultList.as_view(),
        name="reconciliation-claim-list",
    ),
    path(
        "reconciliation/claims/<int:fill_id>/",
        workbench_api.ClaimStoryDetail.as_view(),
        name="reconciliation-claim-story",
    ),
    path(
        "reconciliation/exceptions/",
        workbench_api.ExceptionList.as_view(),
        name="reconciliation-exception-list",
    ),
    path("reconciliation/runs/", workbench_api.RunList.as_view(), name="reconciliation-run-list"),
]
