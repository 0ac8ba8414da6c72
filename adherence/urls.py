from django.urls import path

from adherence import views

app_name = "adherence"
urlpatterns = [
    path("", views.index, name="index"),
]
