from django.contrib import admin

from claims.models import Patient


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin[Patient]):
    list_display = ["last_name", "first_name", "date_of_birth", "location", "pms_patient_id"]
    list_filter = ["location"]
    search_fields = ["last_name", "first_name", "pms_patient_id"]
