"""Clinical services: immunizations a pharmacist gave (MTM encounters and billing to come).

An `Immunization` is a fact: what was given, to whom, by whom, from which lot. The registry
message (VXU) and the closed care gap are derived from it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from clinical.hl7.vxu import FUNDING_ELIGIBILITY, ROUTES, SITES
from rxrevops.querysets import ClinicalBillingQuerySet, ClinicalQuerySet


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

    objects = ClinicalQuerySet["Immunization"].as_manager()

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


class Encounter(models.Model):
    """One MTM encounter (CMR or TMR), one version of it.

    A draft is edited (and autosaved) until the pharmacist signs it; a signed version is
    never changed again. An amendment is a new version in the same `series`, starting as a
    copy of the signed one, with who/when/why; the latest signed version is the record.
    """

    class Kind(models.TextChoices):
        CMR = "cmr", "Comprehensive medication review (CMR)"
        TMR = "tmr", "Targeted medication review (TMR)"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SIGNED = "signed", "Signed"

    class Mode(models.TextChoices):
        # CMS: a CMR is interactive, person-to-person or telehealth
        IN_PERSON = "in_person", "In person"
        PHONE = "phone", "Telephone"
        VIDEO = "video", "Video (telehealth)"

    class Recipient(models.TextChoices):
        PATIENT = "patient", "Patient"
        CAREGIVER = "caregiver", "Caregiver"
        REPRESENTATIVE = "representative", "Authorized representative"

    class PrescriberContact(models.TextChoices):
        NONE = "", "Not contacted"
        FAX = "fax", "Fax"
        PHONE = "phone", "Phone"
        EMESSAGE = "emessage", "Secure e-message"

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="+"
    )
    location = models.ForeignKey("rxrevops.Location", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "claims.Patient", on_delete=models.PROTECT, related_name="encounters"
    )
    series = models.UUIDField(db_index=True)
    version = models.PositiveSmallIntegerField(default=1)
    kind = models.CharField(max_length=3, choices=Kind.choices, default=Kind.CMR)
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.DRAFT)
    worklist_item = models.ForeignKey(
        "adherence.WorklistItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    held_on = models.DateField()
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.IN_PERSON)
    recipient = models.CharField(
        max_length=14, choices=Recipient.choices, default=Recipient.PATIENT
    )
    minutes = models.PositiveSmallIntegerField(default=0)
    # CPT: 99605 for a new patient, 99606 for an established one
    new_patient = models.BooleanField(default=True)
    allergies = models.TextField(blank=True)
    subjective = models.TextField(blank=True)
    objective = models.TextField(blank=True)
    assessment = models.TextField(blank=True)
    plan = models.TextField(blank=True)
    follow_up_on = models.DateField(null=True, blank=True)
    follow_up_note = models.CharField(max_length=300, blank=True)
    prescriber_contact = models.CharField(
        max_length=8, choices=PrescriberContact.choices, blank=True, default=""
    )
    prescriber_note = models.TextField(blank=True)
    amendment_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)

    objects = ClinicalQuerySet["Encounter"].as_manager()

    class Meta:
        ordering = ["-held_on", "-pk"]
        indexes = [
            # the pharmacist home lists drafts and follow-ups of the user's stores
            models.Index(fields=["location", "status", "held_on"]),
            # the CMR history source reads an organization's signed CMRs per year
            models.Index(fields=["organization", "kind", "status", "held_on"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["series", "version"], name="encounter_version_once"),
            # one draft per series: an amendment in progress is the only editable version
            models.UniqueConstraint(
                fields=["series"],
                condition=models.Q(status="draft"),
                name="encounter_one_draft_per_series",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.held_on} (v{self.version})"

    @property
    def is_signed(self) -> bool:
        return self.status == self.Status.SIGNED


class EncounterMedication(models.Model):
    """A row of the personal medication list (CMS Standardized Format)."""

    class Source(models.TextChoices):
        FILL = "fill", "Dispensed here"
        OTC = "otc", "Over the counter"
        SUPPLEMENT = "supplement", "Herbal or supplement"
        OTHER = "other", "Dispensed elsewhere"

    encounter = models.ForeignKey(Encounter, on_delete=models.CASCADE, related_name="medications")
    position = models.PositiveSmallIntegerField(default=0)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.FILL)
    name = models.CharField(max_length=200)
    ndc = models.CharField("NDC", max_length=11, blank=True)
    how_used = models.CharField("how I use it", max_length=300, blank=True)
    why_used = models.CharField("why I use it", max_length=300, blank=True)
    prescriber = models.CharField(max_length=200, blank=True)
    started_on = models.DateField(null=True, blank=True)
    stopped_on = models.DateField(null=True, blank=True)
    why_stopped = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name


class EncounterProblem(models.Model):
    """A medication-related problem, what was done and the result, as the NCPDP DUR/PPS
    triplet (reason for service, professional service, result of service) plus the
    medication action plan wording the patient takes home."""

    encounter = models.ForeignKey(Encounter, on_delete=models.CASCADE, related_name="problems")
    position = models.PositiveSmallIntegerField(default=0)
    medication = models.CharField(max_length=200, blank=True)
    reason_code = models.CharField("reason for service", max_length=2)
    service_code = models.CharField("professional service", max_length=2, blank=True)
    result_code = models.CharField("result of service", max_length=2, blank=True)
    talked_about = models.CharField("what we talked about", max_length=400)
    patient_action = models.CharField("what I need to do", max_length=400, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"{self.reason_code}/{self.service_code}/{self.result_code}"


class ClinicalClaim(models.Model):
    """A billable clinical service: an MTM encounter, an immunization administration or a
    point-of-care test, with its CPT/HCPCS lines and what the payer paid. Clinical revenue per
    service is the sum of these."""

    class Service(models.TextChoices):
        MTM = "mtm", "MTM encounter"
        IMMUNIZATION = "immunization", "Immunization administration"
        POC_TEST = "poc_test", "Point-of-care test"

    class Status(models.TextChoices):
        READY = "ready", "Ready to bill"
        BILLED = "billed", "Billed"
        PAID = "paid", "Paid"
        DENIED = "denied", "Denied"
        VOID = "void", "Void"

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="+"
    )
    location = models.ForeignKey("rxrevops.Location", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "claims.Patient", on_delete=models.PROTECT, related_name="clinical_claims"
    )
    service = models.CharField(max_length=12, choices=Service.choices)
    service_date = models.DateField()
    # the billed source: one claim per encounter series, per dose, per test
    encounter_series = models.UUIDField(null=True, blank=True, unique=True)
    immunization = models.OneToOneField(
        "clinical.Immunization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="claim",
    )
    poc_test = models.OneToOneField(
        "clinical.PointOfCareTest",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="claim",
    )
    payer = models.CharField(max_length=200, blank=True)
    # [{"code": "99605", "modifier": "", "units": 1, "cents": 7500, "description": ...}]
    lines = models.JSONField(default=list)
    billed_cents = models.BigIntegerField(default=0)
    paid_cents = models.BigIntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.READY)
    status_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClinicalBillingQuerySet["ClinicalClaim"].as_manager()

    class Meta:
        ordering = ["-service_date", "-pk"]
        indexes = [
            # clinical revenue per service over a date range, per store
            models.Index(fields=["organization", "service_date", "service"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_service_display()} on {self.service_date}"


class PointOfCareTest(models.Model):
    """A CLIA-waived test performed at the pharmacy (A1c, strep, flu, COVID)."""

    class Kind(models.TextChoices):
        A1C = "a1c", "Hemoglobin A1c"
        STREP = "strep", "Rapid strep A"
        FLU = "flu", "Influenza A/B"
        COVID = "covid", "COVID-19 antigen"

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="+"
    )
    location = models.ForeignKey("rxrevops.Location", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "claims.Patient", on_delete=models.PROTECT, related_name="poc_tests"
    )
    kind = models.CharField(max_length=5, choices=Kind.choices)
    performed_on = models.DateField()
    result = models.CharField(max_length=100)
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ClinicalQuerySet["PointOfCareTest"].as_manager()

    class Meta:
        ordering = ["-performed_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.performed_on}"


# models of other clinical sub-domains live in their own modules, registered here
from clinical.contract_models import *  # noqa: E402,F403
from clinical.registry_models import *  # noqa: E402,F403
