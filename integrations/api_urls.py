from django.urls import path

from integrations import api

urlpatterns = [
    path("hl7/", api.Hl7Receive.as_view(), name="hl7-receive"),
]
