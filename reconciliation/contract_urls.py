"""Payer contract pages (included by reconciliation/urls.py, namespace "reconciliation")."""

from django.urls import URLPattern, path

from reconciliation import contract_views

urlpatterns: list[URLPattern] = [
    path("contracts/", contract_views.contracts, name="contracts"),
    path("contracts/new/", contract_views.contract_new, name="contract_new"),
    path("contracts/<int:contract_id>/", contract_views.contract_detail, name="contract_detail"),
    path("contracts/<int:contract_id>/edit/", contract_views.contract_edit, name="contract_edit"),
    path(
        "contracts/<int:contract_id>/new-version/",
        contract_views.contract_new_version,
        name="contract_new_version",
    ),
]
