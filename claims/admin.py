from django.contrib import admin

from claims.models import Drug, Patient, Plan, Prescriber


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin[Patient]):
    list_display = ["last_name", "first_name", "date_of_birth", "location", "pms_patient_id"]
    list_filter = ["location"]
    search_fields = ["last_name", "first_name", "pms_patient_id"]


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin[Plan]):
    list_display = ["name", "bin", "pcn", "group", "contract_type"]
    list_filter = ["contract_type"]
    search_fields = ["name", "bin", "pcn", "group"]


@admin.register(Drug)
class DrugAdmin(admin.ModelAdmin[Drug]):
    list_display = ["ndc", "name", "generic_name", "is_brand", "adherence_class"]
    list_filter = ["is_brand", "adherence_class"]
    search_fields = ["ndc", "name", "generic_name"]


@admin.register(Prescriber)
class PrescriberAdmin(admin.ModelAdmin[Prescriber]):
    list_display = ["npi", "name"]
    search_fields = ["npi", "name"]
