"""Fee statements, NADAC prices and acquisition costs: the reconciliation engine's other
inputs, as the files gave them (facts, upserted on their real-world keys by
`reconciliation.services.fee_import` and `.cost_import`). Money is integer cents; per-unit
prices are Decimal with five places, as NADAC and wholesalers publish them."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from rxrevops.querysets import LocationScopedQuerySet

__all__ = ["AcquisitionCost", "FeeLine", "NadacPrice"]


class FeeLine(models.Model):
    """One line of a PBM fee / DIR statement: a fee charged on (or, negative, an incentive
    paid back for) one claim. The same statement sent again updates its lines (the key
    includes the statement date); a later statement's line for the same claim and fee type
    is another line, and a claim's fees are the sum of its lines (a correction arrives as a
    delta line, the way PBM true-up statements report adjustments)."""

    class FeeType(models.TextChoices):
        PERFORMANCE = "performance", "Performance fee"
        NETWORK = "network", "Network fee"
        EFFECTIVE_RATE_TRUE_UP = "effective_rate_true_up", "Effective-rate true-up"
        TRANSACTION = "transaction", "Transaction fee"

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.PROTECT, related_name="+"
    )
    # the store the statement names by NCPDP (a line for an unknown store is quarantined)
    location = models.ForeignKey("rxrevops.Location", on_delete=models.PROTECT, related_name="+")
    statement_date = models.DateField()
    payer_name = models.CharField(max_length=120, blank=True)
    bin = models.CharField("BIN", max_length=6, blank=True)
    pcn = models.CharField("PCN", max_length=20, blank=True)
    group = models.CharField(max_length=20, blank=True)
    # the claim it is about: the PMS claim key, and the payer's reference (503-F3)
    rx_number = models.BigIntegerField()
    fill_number = models.IntegerField()
    date_of_service = models.DateField()
    transaction_code = models.CharField(max_length=2)
    authorization_number = models.CharField(max_length=40, blank=True)
    fee_type = models.CharField(max_length=30, choices=FeeType.choices)
    amount_cents = models.BigIntegerField()  # charged to the pharmacy; negative: paid to it
    # provenance: the file and job that last wrote the line
    import_file = models.ForeignKey(
        "rxrevops.ImportFile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    job = models.ForeignKey(
        "rxrevops.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField()

    objects = LocationScopedQuerySet["FeeLine"].as_manager()

    class Meta:
        constraints = [
            # the claim, the statement and the kind of fee: a restated line replaces itself.
            # Its index also serves the engine's "fee lines of this claim" lookup by
            # (location, rx_number, fill_number, date_of_service), a prefix of it.
            models.UniqueConstraint(
                fields=[
                    "location",
                    "rx_number",
                    "fill_number",
                    "date_of_service",
                    "transaction_code",
                    "statement_date",
                    "fee_type",
                ],
                name="fee_line_real_world_key",
            )
        ]
        indexes = [
            # the engine matches fee lines to claims by the payer's authorization number
            models.Index(
                fields=["organization", "authorization_number"],
                name="fee_line_authorization",
                condition=~Q(authorization_number=""),
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.fee_type} {self.amount_cents} on Rx {self.rx_number}-{self.fill_number} "
            f"{self.date_of_service} ({self.statement_date})"
        )


class NadacPrice(models.Model):
    """CMS's National Average Drug Acquisition Cost for one NDC from one effective date, as
    one organization imported the public file. Each organization keeps its own copy, so no
    tenant's upload can change another's costs (a row is never put back to an older
    publication)."""

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="+"
    )
    ndc = models.CharField("NDC", max_length=11)  # 11 digits, 5-4-2
    effective_date = models.DateField()
    per_unit = models.DecimalField(max_digits=12, decimal_places=5)
    pricing_unit = models.CharField(max_length=4)  # EA, ML, GM
    description = models.CharField(max_length=200, blank=True)
    classification = models.CharField(max_length=10, blank=True)  # G, B, B-ANDA, B-BIO
    pharmacy_type = models.CharField(max_length=10, blank=True)  # C/I
    otc = models.CharField("OTC", max_length=1, blank=True)  # Y/N
    explanation_code = models.CharField(max_length=40, blank=True)  # e.g. "1" or "4, 5"
    generic_per_unit = models.DecimalField(
        max_digits=12, decimal_places=5, null=True, blank=True
    )  # the corresponding generic's NADAC, for a brand
    generic_effective_date = models.DateField(null=True, blank=True)
    as_of_date = models.DateField(null=True, blank=True)  # the publication the row came from
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            # its index serves the engine's "price of this NDC on this day" lookup
            models.UniqueConstraint(
                fields=["organization", "ndc", "effective_date"], name="nadac_org_ndc_effective"
            )
        ]

    def __str__(self) -> str:
        return f"NADAC {self.ndc} {self.effective_date}: {self.per_unit}/{self.pricing_unit}"


class AcquisitionCost(models.Model):
    """One line of a wholesaler invoice to one store: what the store paid for an NDC.
    `unit_cost` is per dispensing unit; the file gives it, the extended cost or both (the
    other is derived: extended = unit cost x package size x packages, to the cent)."""

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.PROTECT, related_name="+"
    )
    location = models.ForeignKey("rxrevops.Location", on_delete=models.PROTECT, related_name="+")
    invoice_number = models.CharField(max_length=40)
    invoice_date = models.DateField()
    ndc = models.CharField("NDC", max_length=11)
    description = models.CharField(max_length=200, blank=True)
    package_size = models.DecimalField(max_digits=12, decimal_places=3)  # units per package
    packages = models.DecimalField(max_digits=12, decimal_places=3)
    unit_cost = models.DecimalField(max_digits=14, decimal_places=5)
    extended_cost_cents = models.BigIntegerField()
    import_file = models.ForeignKey(
        "rxrevops.ImportFile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    job = models.ForeignKey(
        "rxrevops.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField()

    objects = LocationScopedQuerySet["AcquisitionCost"].as_manager()

    class Meta:
        constraints = [
            # an invoice lists an NDC once; the invoice sent again updates its lines
            models.UniqueConstraint(
                fields=["location", "invoice_number", "ndc"], name="acquisition_invoice_line"
            )
        ]
        indexes = [
            # the engine's "latest cost of this NDC at this store on or before this day"
            models.Index(
                fields=["location", "ndc", "invoice_date"], name="acquisition_store_ndc_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_number} {self.ndc}: {self.unit_cost}/unit"
