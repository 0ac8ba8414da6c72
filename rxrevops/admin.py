from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from rxrevops.models import ApiToken, AuditEvent, Job, Location, Membership, Organization
from rxrevops.signin.factors import totp_devices_reset


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ["name", "slug", "kind", "network"]
    list_filter = ["kind"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin[Location]):
    list_display = ["name", "organization", "ncpdp_id", "npi", "city", "state", "is_active"]
    list_filter = ["organization", "state", "is_active"]
    search_fields = ["name", "ncpdp_id", "npi"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ["user", "organization", "role", "all_locations"]
    list_filter = ["organization", "role"]
    filter_horizontal = ["locations"]
    search_fields = ["user__username", "user__email"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    """Read-only: tokens are issued from Settings → API tokens or `create_api_token`, so the
    key is shown once to the person who asked for it."""

    list_display = ["name", "organization", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["organization"]
    # locations too: removing a token's last location would widen it to every location
    readonly_fields = [
        *(f.name for f in ApiToken._meta.fields if f.name != "revoked_at"),
        "locations",
    ]
    exclude = ["key_hash"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    list_display = ["occurred_at", "actor_label", "action", "object_type", "object_id", "summary"]
    list_filter = ["action", "organization"]
    search_fields = ["actor_label", "object_id", "summary"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin[Job]):
    list_display = [
        "pk",
        "kind",
        "organization",
        "location",
        "status",
        "progress_done",
        "created_at",
    ]
    list_filter = ["status", "kind", "organization"]
    readonly_fields = [f.name for f in Job._meta.fields]


# An admin resets a user's lost authenticator by deleting their device; the reset is
# audit-logged like `manage.py totp_reset`.
admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class AuditedTOTPDeviceAdmin(TOTPDeviceAdmin):
    def delete_model(self, request: HttpRequest, obj: TOTPDevice) -> None:
        totp_devices_reset(user=obj.user, reset_by=f"admin ({request.user.get_username()})")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[TOTPDevice]) -> None:
        for device in queryset.select_related("user"):
            self.delete_model(request, device)
