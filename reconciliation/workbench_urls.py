"""The reconciliation workbench's pages, included under /reconciliation/ by
`reconciliation.urls` (names live in the `reconciliation` namespace)."""

from django.urls import path

from reconciliation import workbench_views as views

urlpatterns = [
    path("workbench/", views.workbench, name="workbench"),
    path("workbench/export/", views.workbench_export, name="workbench_export"),
    path("workbench/mac-appeals/", views.mac_appeals, name="mac_appeals"),
    path("workbench/claims/<int:fill_id>/", views.claim_story, name="claim_story"),
    path("workbench/claims/<int:fill_id>/case/", views.case_update, name="case_update"),
]
