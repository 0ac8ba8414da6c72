"""Clinical services: immunizations a pharmacist gave (MTM encounters and billing to come).

An `Immunization` is a fact: what was given, to whom, by whom, from which lot. The registry
message (VXU) and the closed care gap are derived from it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from clinical.hl7.vxu import FUNDING_ELIGIBILITY, ROUTES, SITES
from rxrevops.querysets import LocationScopedQuerySet


class Immunization(models.Model):
    """One administered dose, with what the state registry's VXU needs."""

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="+"
    )
    location = models.ForeignKey("rxrevops.Location", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "claims.Patient", on_delete=models.PROTECT, related_name="immunizations"
    )
    administered_on = models.DateField()
    cvx = models.CharField("CVX", max_length=4)
    mvx = models.CharField("MVX", max_length=4)
    vaccine = models.CharField(max_length=200)
    lot = models.CharField(max_length=40)
    expiration = models.DateField("lot expiration")
    dose_ml = models.DecimalField("dose (mL)", max_digits=5, decimal_places=2)
    site = models.CharField(max_length=4, choices=sorted(SITES.items()))
    # NCIT code (HL7 0162 as the CDC IG constrains it), e.g. C28161 intramuscular
    route = models.CharField(max_length=8, choices=sorted(ROUTES.items()))
    vis_edition_date = models.DateField("VIS edition date")
    vis_given_on = models.DateField("VIS given on")
    administered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    administering_npi = models.CharField("administering NPI", max_length=10, blank=True)
    # HL7 table 0064 (V01 not VFC eligible ... V07 local-specific)
    funding_eligibility = models.CharField(
        max_length=3, choices=sorted(FUNDING_ELIGIBILITY.items())
    )
    billed_cents = models.BigIntegerField(default=0)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LocationScopedQuerySet["Immunization"].as_manager()

    class Meta:
        ordering = ["-administered_on", "-pk"]
        indexes = [
            # the care-gap source reads an organization's doses at every worklist build
            models.Index(fields=["organization", "administered_on"]),
            models.Index(fields=["patient", "administered_on"]),
        ]
        constraints = [
            # one dose is one row: an imported file loaded again updates, never duplicates
            models.UniqueConstraint(
                fields=["location", "patient", "cvx", "administered_on", "lot"],
                name="immunization_dose_once",
            )
        ]

    def __str__(self) -> str:
        return f"CVX {self.cvx} lot {self.lot} on {self.administered_on}"
