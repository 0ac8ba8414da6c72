from django.contrib import admin

from clinical.models import (
    ClinicalClaim,
    ContractMeasure,
    ImmunizationRegistry,
    ValueBasedContract,
)


class ContractMeasureInline(admin.TabularInline[ContractMeasure, ValueBasedContract]):
    model = ContractMeasure
    extra = 1


@admin.register(ValueBasedContract)
class ValueBasedContractAdmin(admin.ModelAdmin[ValueBasedContract]):
    list_display = [
        "name",
        "organization",
        "payer_name",
        "bin",
        "pcn",
        "group",
        "measurement_year",
        "pmpm_cents",
    ]
    list_filter = ["organization", "measurement_year"]
    search_fields = ["name", "payer_name", "bin", "pcn", "group"]
    inlines = [ContractMeasureInline]


@admin.register(ImmunizationRegistry)
class ImmunizationRegistryAdmin(admin.ModelAdmin[ImmunizationRegistry]):
    list_display = ["name", "organization", "state", "endpoint_url", "processing_id", "enabled"]
    list_filter = ["organization", "state", "enabled"]


@admin.register(ClinicalClaim)
class ClinicalClaimAdmin(admin.ModelAdmin[ClinicalClaim]):
    list_display = ["service_date", "service", "location", "payer", "billed_cents", "status"]
    list_filter = ["service", "status", "location"]
    readonly_fields = ["lines", "encounter_series", "immunization", "poc_test"]
