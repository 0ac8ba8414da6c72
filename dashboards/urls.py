from django.urls import path

from dashboards import views

app_name = "dashboards"
urlpatterns = [
    path("", views.index, name="index"),
    path("locations/<int:location_id>/", views.location_page, name="location"),
    path("payers/<int:plan_id>/", views.payer_page, name="payer"),
    path("by/<str:dimension>/", views.breakdown, name="breakdown"),
    path("benchmark/", views.benchmark, name="benchmark"),
    path("staff/", views.staff, name="staff"),
    path("claims/", views.claims, name="claims"),
    path("report/", views.report, name="report"),
]
