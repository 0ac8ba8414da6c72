from django.urls import path

from claims import claims_web

app_name = "claims_list"
urlpatterns = [
    path("", claims_web.claim_list, name="list"),
]
