from django.urls import path

from dashboards import api

urlpatterns = [
    path("metrics/margin/", api.MarginMetrics.as_view(), name="metrics-margin"),
]
