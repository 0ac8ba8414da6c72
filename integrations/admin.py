from django.contrib import admin

from integrations.models import Hl7Message


@admin.register(Hl7Message)
class Hl7MessageAdmin(admin.ModelAdmin[Hl7Message]):
    list_display = [
        "received_at",
        "organization",
        "location",
        "transport",
        "message_type",
        "control_id",
        "outcome",
        "times_received",
    ]
    list_filter = ["organization", "transport", "message_type", "outcome"]
    search_fields = ["control_id", "sending_facility"]
    readonly_fields = [f.name for f in Hl7Message._meta.get_fields() if f.concrete]
    date_hierarchy = "received_at"
