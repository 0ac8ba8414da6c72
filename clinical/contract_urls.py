"""Value-based contract pages (included by clinical/urls.py, namespace "clinical")."""

from django.urls import URLPattern, path

from clinical import contract_views

urlpatterns: list[URLPattern] = [
    path("contracts/", contract_views.contracts, name="contracts"),
    path("contracts/<int:contract_id>/", contract_views.contract_detail, name="contract_detail"),
]
