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
    sex = models.CharField(max_length=1, blank=True)
    postal_code = models.CharField(max_length=10, blank=True)
    med_sync_enrolled = models.BooleanField(default=False)
    med_sync_day = models.PositiveSmallIntegerField(null=True, blank=True)
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


class Prescriber(models.Model):
    """Reference data keyed by NPI, shared by every organization (not patient data)."""

    npi = models.CharField("NPI", max_length=10, unique=True)
    name = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.npi})"


class Drug(models.Model):
    """A product by NDC-11. The adherence class comes from the measure value sets."""

    ndc = models.CharField("NDC", max_length=11, unique=True)
    name = models.CharField(max_length=200, blank=True)
    generic_name = models.CharField(max_length=200, blank=True)
    is_brand = models.BooleanField(default=False)
    adherence_class = models.CharField(max_length=16, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.ndc})"


class Plan(models.Model):
    """A third-party plan as the claim names it: BIN / PCN / group."""

    bin = models.CharField("BIN", max_length=6)
    pcn = models.CharField("PCN", max_length=20, blank=True)
    group = models.CharField(max_length=20, blank=True)
    name = models.CharField(max_length=200, blank=True)
    # not on a PMS export: set from the payer contract (reconciliation) or in the admin
    contract_type = models.CharField(
        max_length=12,
        blank=True,
        choices=[("ffs", "Fee-for-service"), ("value_based", "Value-based")],
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bin", "pcn", "group"], name="plan_bin_pcn_group")
        ]

    def __str__(self) -> str:
        return f"{self.name or self.bin} ({self.bin}/{self.pcn}/{self.group})"


class Prescription(models.Model):
    location = models.ForeignKey("rxrevops.Location", on_delete=models.PROTECT, related_name="+")
    rx_number = models.BigIntegerField()
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="prescriptions")
    prescriber = models.ForeignKey(
        Prescriber, null=True, on_delete=models.PROTECT, related_name="+"
    )
    drug = models.ForeignKey(Drug, on_delete=models.PROTECT, related_name="+")

    objects = LocationScopedQuerySet["Prescription"].as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["location", "rx_number"], name="rx_unique_per_store")
        ]

    def __str__(self) -> str:
        return f"Rx {self.rx_number}"


class Fill(models.Model):
    """One claim transaction from the PMS (B1 bill, B2 reversal, B3 rebill) with what the
    payer adjudicated. Money in integer cents. Keyed like the real world: store, Rx number,
    fill number, date of service, transaction code. Carries date_of_service so the table
    can be range-partitioned by month when a chain outgrows one machine."""

    class Status(models.TextChoices):
        PAID = "paid", "Paid"
        REVERSED = "reversed", "Reversed"
        CASH = "cash", "Cash"

    # Fill is the fact table every import writes to. Its references come from the loader's
    # joins in the same statement that inserts it, so the database does not re-check them
    # row by row (Django's deferred FK triggers cost 5 lookups + parent row locks per fill at
    # commit, more than the insert itself); Django still enforces PROTECT on delete. Only
    # the indexes that a query uses are kept: the real-world key (which also serves
    # `location` and a prescription's fills, by store + Rx number), store + date, and
    # patient + date.
    location = models.ForeignKey(
        "rxrevops.Location",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    rx_number = models.BigIntegerField()
    fill_number = models.IntegerField()
    date_of_service = models.DateField()
    transaction_code = models.CharField(max_length=2)
    transaction_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices)
    prescription = models.ForeignKey(
        Prescription,
        on_delete=models.PROTECT,
        related_name="fills",
        db_constraint=False,
        db_index=False,
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="fills", db_constraint=False, db_index=False
    )
    drug = models.ForeignKey(
        Drug, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    plan = models.ForeignKey(
        Plan,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    days_supply = models.IntegerField()
    daw_code = models.CharField(max_length=1, blank=True)
    cardholder_id = models.CharField(max_length=30, blank=True)
    usual_customary_cents = models.BigIntegerField()
    ingredient_cost_paid_cents = models.BigIntegerField()
    dispensing_fee_paid_cents = models.BigIntegerField()
    patient_pay_cents = models.BigIntegerField()
    total_paid_cents = models.BigIntegerField()
    acquisition_cost_cents = models.BigIntegerField()
    basis_of_reimbursement = models.CharField(max_length=2, blank=True)
    authorization_number = models.CharField(max_length=40, blank=True)
    # md5 of the loaded values: a re-import that changes nothing writes nothing
    row_hash = models.CharField(max_length=32)
    # provenance: the job that last wrote the row (jobs are kept; the id may outlive one)
    source_job = models.ForeignKey(
        "rxrevops.Job",
        null=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = LocationScopedQuerySet["Fill"].as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "location",
                    "rx_number",
                    "fill_number",
                    "date_of_service",
                    "transaction_code",
                ],
                name="fill_real_world_key",
            )
        ]
        indexes = [
            # claims list per store, newest first, filtered by date range
            models.Index(fields=["location", "-date_of_service"], name="fill_store_dos"),
            # a patient's fill history (adherence, patient page)
            models.Index(fields=["patient", "date_of_service"], name="fill_patient_dos"),
            # an incremental reconciliation run: the claims the imports since the last run
            # wrote (the job ids only grow: new entries append at the index's right edge)
            models.Index(fields=["source_job"], name="fill_source_job"),
        ]

    def __str__(self) -> str:
        return (
            f"Rx {self.rx_number}-{self.fill_number:02d} {self.date_of_service} "
            f"{self.transaction_code}"
        )
