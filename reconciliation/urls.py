from django.urls import path

from reconciliation import contract_urls, views, workbench_urls

app_name = "reconciliation"
urlpatterns = [
    path("", views.remittance_list, name="index"),
    path("remittances/<int:remittance_id>/", views.remittance_detail, name="remittance_detail"),
    path("remittances/<int:remittance_id>/raw/", views.remittance_raw, name="remittance_raw"),
]
urlpatterns += contract_urls.urlpatterns + workbench_urls.urlpatterns
