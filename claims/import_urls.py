from django.urls import path

from claims import imports_web

app_name = "imports"
urlpatterns = [
    path("", imports_web.import_list, name="list"),
    path("<int:job_id>/errors.csv", imports_web.import_errors_csv, name="errors_csv"),
]
