"""Adherence results and the technicians' worklists.

Two kinds of rows live here:

- **derived** rows, rebuilt by every build (`MeasureResult`, and the facts on each
  `WorklistItem`): never edited by hand, always equal to what the engine says about the fills;
- **work** rows that people write (`GapReason`, `SyncEnrollment`, `Outreach`, and an item's
  outreach status), which a rebuild never overwrites.

A worklist item is keyed by (patient, code), with codes stable across builds
(`pdc:PDC-STA:2026`, `sync:2026-12-07`, `imm:flu:2026-27`), so the call history survives
the nightly rebuild.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from rxrevops.querysets import LocationScopedQuerySet


class MeasureResult(models.Model):
    """One patient's PQA measure row for a measurement year, as of the build date (year to
    date for the current year), with the outlook for PDC measures."""

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="+"
    )
    location = models.ForeignKey("rxrevops.Location", on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(
        "claims.Patient", on_delete=models.CASCADE, related_name="measure_results"
    )
    year = models.PositiveSmallIntegerField()
    measure = models.CharField(max_length=16)
    as_of = models.DateField()
    status = models.CharField(max_length=16)
    index_date = models.DateField()
    period_end = models.DateField()
    days_in_period = models.IntegerField()
    covered_days = models.IntegerField()
    adherent = models.BooleanField(null=True)
    # the store with >= 51% of the measure's days' supply (PQA attribution); null when none
    attributed_location = models.ForeignKey(
        "rxrevops.Location", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # what is still possible (PDC measures, current year only); see adherence.outlook
    outlook = models.CharField(max_length=32, blank=True)
    covered_to_date = models.IntegerField(null=True)
    days_to_date = models.IntegerField(null=True)
    days_needed = models.IntegerField(null=True)
    days_can_miss = models.IntegerField(null=True)
    next_fill_due = models.DateField(null=True)
    refill_by = models.DateField(null=True)
    job = models.ForeignKey(
        "rxrevops.Job", null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )

    objects = LocationScopedQuerySet["MeasureResult"].as_manager()

    class Meta:
        ordering = ["patient", "measure"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "year", "measure"], name="measure_result_once_per_year"
            )
        ]
        indexes = [models.Index(fields=["organization", "year", "measure"])]

    def __str__(self) -> str:
        return f"{self.measure} {self.year} for patient {self.patient_id}: {self.status}"

    @property
    def pdc_percent(self) -> float | None:  # display only; the stored figures are integers
        if self.status != "measured" or self.measure == "SUPD" or not self.days_in_period:
            return None
        return 100 * self.covered_days / self.days_in_period


class GapReason(models.Model):
    """A reason staff recorded for a gap in supply: while it applies, the patient is not
    put on the refill list for the measure (or any measure when `measure` is blank)."""

    class Reason(models.TextChoices):
        HOSPITAL = "hospital", "Hospital or facility stay"
        SAMPLES = "samples", "Samples from the prescriber"
        THERAPY_CHANGE = "therapy_change", "Therapy changed or stopped by the prescriber"
        MOVED = "moved", "Moved or transferred to another pharmacy"
        OTHER = "other", "Other (see note)"

    location = models.ForeignKey("rxrevops.Location", on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(
        "claims.Patient", on_delete=models.CASCADE, related_name="gap_reasons"
    )
    measure = models.CharField(max_length=16, blank=True)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    note = models.CharField(max_length=300, blank=True)
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LocationScopedQuerySet["GapReason"].as_manager()

    class Meta:
        ordering = ["-starts_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} from {self.starts_on}"


class SyncEnrollment(models.Model):
    """A patient's medication-synchronization plan: every `cycle_days` from `first_sync_date`
    the synced prescriptions are picked up together."""

    class Source(models.TextChoices):
        STAFF = "staff", "Enrolled in RxRevOps"
        PMS = "pms", "Flagged in the PMS export"

    location = models.ForeignKey("rxrevops.Location", on_delete=models.CASCADE, related_name="+")
    patient = models.OneToOneField(
        "claims.Patient", on_delete=models.CASCADE, related_name="sync_enrollment"
    )
    anchor = models.ForeignKey(
        "claims.Prescription", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    prescriptions = models.ManyToManyField("claims.Prescription", related_name="+", blank=True)
    first_sync_date = models.DateField()
    cycle_days = models.PositiveSmallIntegerField(default=30)
    active = models.BooleanField(default=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.STAFF)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    enrolled_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LocationScopedQuerySet["SyncEnrollment"].as_manager()

    def __str__(self) -> str:
        return f"Med sync every {self.cycle_days} days from {self.first_sync_date}"


class WorklistItem(models.Model):
    """One thing a technician should do for a patient, with what doing it is worth."""

    class Kind(models.TextChoices):
        MED_SYNC = "med_sync", "Med-sync call"
        REFILL = "refill", "Late or at-risk refill"
        CARE_GAP = "care_gap", "Care gap"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"  # worked to an end (reached and confirmed, filled, declined)
        RESOLVED = "resolved", "No longer due"  # the last build no longer produced it

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="+"
    )
    location = models.ForeignKey("rxrevops.Location", on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(
        "claims.Patient", on_delete=models.CASCADE, related_name="worklist_items"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    code = models.CharField(max_length=60)
    title = models.CharField(max_length=200)
    due_date = models.DateField()
    value_cents = models.BigIntegerField(default=0)
    value_reason = models.CharField(max_length=400, blank=True)
    details = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    last_outcome = models.CharField(max_length=20, blank=True)
    last_outreach_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    job = models.ForeignKey(
        "rxrevops.Job", null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    built_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LocationScopedQuerySet["WorklistItem"].as_manager()

    class Meta:
        ordering = ["-value_cents", "due_date", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "code"], name="worklist_item_per_code")
        ]
        indexes = [
            models.Index(fields=["location", "kind", "status", "due_date"]),
            # the lists' default order: a store's top items of a kind by value, no sort
            models.Index(
                fields=["location", "kind", "status", "-value_cents", "due_date", "id"],
                name="worklist_item_by_value",
            ),
            models.Index(fields=["organization", "status"]),
        ]

    def __str__(self) -> str:
        return self.title


class Outreach(models.Model):
    """One logged contact attempt on a worklist item (append-only)."""

    class Outcome(models.TextChoices):
        REACHED_NO_CHANGES = "reached_no_changes", "Reached: no changes"
        REACHED_CHANGES = "reached_changes", "Reached: changes"
        NOT_REACHED = "not_reached", "Not reached"
        DECLINED = "declined", "Declined"
        READY_TO_FILL = "ready_to_fill", "Ready to fill"

    item = models.ForeignKey(WorklistItem, on_delete=models.CASCADE, related_name="outreach")
    location = models.ForeignKey("rxrevops.Location", on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey("claims.Patient", on_delete=models.CASCADE, related_name="+")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    note = models.CharField(max_length=500, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    via_api = models.BooleanField(default=False)

    objects = LocationScopedQuerySet["Outreach"].as_manager()

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} at {self.at:%Y-%m-%d %H:%M}"


class MeasureRate(models.Model):
    """PDC/SUPD rates per attributed store, measure and month end of a year (year to date
    at each month end, and at the build date): the location panel's trend and the
    dashboards' adherence figures. Rebuilt whole by each build."""

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="+"
    )
    location = models.ForeignKey("rxrevops.Location", on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField()
    measure = models.CharField(max_length=16)
    as_of = models.DateField()
    measured = models.IntegerField()
    adherent = models.IntegerField()

    objects = LocationScopedQuerySet["MeasureRate"].as_manager()

    class Meta:
        ordering = ["location", "measure", "as_of"]
        constraints = [
            models.UniqueConstraint(
                fields=["location", "year", "measure", "as_of"], name="measure_rate_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.measure} {self.adherent}/{self.measured} as of {self.as_of}"

    @property
    def rate_percent(self) -> float | None:  # display only
        return None if not self.measured else 100 * self.adherent / self.measured
