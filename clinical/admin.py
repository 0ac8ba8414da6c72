from django.contrib import admin

from clinical.models import ContractMeasure, ValueBasedContract


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
