"""Uploaded files and the rows an import could not load."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from rxrevops.querysets import OrganizationOrLocationScopedQuerySet


class ImportFile(models.Model):
    """An uploaded original, kept as received (outside the web root) with its SHA-256. Each
    import of it is a Job (`job.params["import_file"]`)."""

    class Kind(models.TextChoices):
        PMS = "pms", "PMS dispensing/claims export"
        X12_835 = "x12_835", "X12 835 remittance"
        IMMUNIZATIONS = "immunizations", "Immunization records (CSV)"
        FEES = "fees", "PBM fee / DIR statement"
        NADAC = "nadac", "NADAC reference prices"
        ACQUISITION = "acquisition", "Acquisition costs (wholesaler invoices)"

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="+"
    )
    location = models.ForeignKey(
        "rxrevops.Location", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    original_name = models.CharField(max_length=255)
    stored_path = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    profile = models.CharField(max_length=40, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    objects = OrganizationOrLocationScopedQuerySet["ImportFile"].as_manager()

    class Meta:
        indexes = [
            # "was this exact file imported here before?"
            models.Index(fields=["organization", "kind", "sha256"], name="import_sha"),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.kind})"


class QuarantinedRow(models.Model):
    """A row an import could not load: where, which field, the value, and why."""

    job = models.ForeignKey("rxrevops.Job", on_delete=models.CASCADE, related_name="quarantine")
    line = models.IntegerField()
    field = models.CharField(max_length=100)
    value = models.TextField(blank=True)
    reason = models.CharField(max_length=300)

    class Meta:
        ordering = ["line", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["job", "line", "field"], name="quarantine_once")
        ]

    def __str__(self) -> str:
        return f"line {self.line} {self.field}: {self.reason}"
