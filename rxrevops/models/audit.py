"""Append-only record of who viewed or exported patient-level data and who changed what."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from rxrevops.querysets import OrganizationScopedQuerySet


class AuditEvent(models.Model):
    """One row per event. Rows are never updated or deleted: a database trigger refuses it."""

    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        EXPORT = "export", "Exported"
        CREATE = "create", "Created"
        UPDATE = "update", "Changed"
        DELETE = "delete", "Deleted"
        IMPORT = "import", "Imported"
        LOGIN = "login", "Signed in"
        LOGOUT = "logout", "Signed out"
        LOGIN_FAILED = "login_failed", "Failed sign-in"
        TOKEN_CREATE = "token_create", "Created API token"
        TOKEN_REVOKE = "token_revoke", "Revoked API token"

    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    organization = models.ForeignKey(
        "rxrevops.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    location = models.ForeignKey(
        "rxrevops.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_token = models.ForeignKey(
        "rxrevops.ApiToken", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # the login name as typed, for failed sign-ins that match no user
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=300, blank=True)
    path = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = OrganizationScopedQuerySet["AuditEvent"].as_manager()

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        indexes = [
            # the owner's audit page: one organization, newest first
            models.Index(fields=["organization", "-occurred_at"], name="audit_org_time"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_type}"
        )

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("Audit events are append-only")
