"""Dispensing facts from the pharmacy management system (PMS)."""

from __future__ import annotations

from django.db import models

from rxrevops.querysets import LocationScopedQuerySet


class Patient(models.Model):
    """A patient as the store's PMS knows them: each store's PMS numbers its own patients,
    so the real-world key is (location, PMS patient id)."""

    location = models.ForeignKey(
        "rxrevops.Location", on_delete=models.PROTECT, related_name="patients"
    )
    pms_patient_id = models.CharField("PMS patient ID", max_length=40)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    phone = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LocationScopedQuerySet["Patient"].as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["location", "pms_patient_id"], name="patient_unique_per_location"
            )
        ]

    def __str__(self) -> str:
        return f"{self.last_name}, {self.first_name}"
