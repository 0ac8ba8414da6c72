"""The central team's work on reconciliation exceptions: one case per claim, with its status
workflow and notes. Cases are facts about people's work and survive every reconciliation run
(results are rebuilt; a case is only ever added to)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from rxrevops.querysets import ReconciliationQuerySet

__all__ = ["CaseNote", "ExceptionCase"]


class ExceptionCase(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        APPEALED = "appealed", "Appealed"
        RESOLVED = "resolved", "Resolved"
        WRITTEN_OFF = "written_off", "Written off"

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="+"
    )
    location = models.ForeignKey("rxrevops.Location", on_delete=models.CASCADE, related_name="+")
    fill = models.OneToOneField(
        "claims.Fill", on_delete=models.CASCADE, related_name="case", db_constraint=False
    )
    kind = models.CharField(max_length=20)  # the exception when the case was opened
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    amount_cents = models.BigIntegerField(default=0)  # at stake when opened
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = ReconciliationQuerySet["ExceptionCase"].as_manager()

    class Meta:
        indexes = [models.Index(fields=["location", "status"])]

    def __str__(self) -> str:
        return f"case {self.pk} ({self.kind}, {self.status})"


class CaseNote(models.Model):
    """One step of a case: a note, a status change, or both, with who and when."""

    case = models.ForeignKey(ExceptionCase, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    text = models.TextField(blank=True)
    status_from = models.CharField(max_length=12, blank=True)
    status_to = models.CharField(max_length=12, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"note {self.pk}"
