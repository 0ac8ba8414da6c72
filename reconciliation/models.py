"""Remittances as the payers sent them: one row per 835 transaction (one payment), its claim
payments, service lines, CAS adjustments and PLB provider-level adjustments.

Loaded by `reconciliation.services.remit_import` (COPY, one database transaction per file);
read by the remittance pages and, next, the reconciliation engine. Money is integer cents.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Func, Q

from rxrevops.querysets import (
    OrganizationOrLocationScopedQuerySet,
    ReconciliationQuerySet,
)


class Remittance(models.Model):
    """One 835 transaction (ST..SE): one payment (BPR/TRN) from one payer to one payee.

    The payee is matched to one of the organization's stores by NPI or NCPDP; a payee that is
    the chain itself (central pay) leaves `location` empty, which only organization-wide
    users see. The same payment sent again (same payer trace and same content) is not loaded
    twice; a corrected re-send (same trace, different content) replaces the current version,
    which is kept with `superseded_by` set."""

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.PROTECT, related_name="+"
    )
    location = models.ForeignKey(
        "rxrevops.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    job = models.ForeignKey(
        "rxrevops.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    import_file = models.ForeignKey(
        "rxrevops.ImportFile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # where it sits in the file (for the raw-segment view)
    interchange_control = models.CharField(max_length=20, blank=True)  # ISA13
    group_control = models.CharField(max_length=20, blank=True)  # GS06
    transaction_control = models.CharField(max_length=20)  # ST02
    sender_id = models.CharField(max_length=30, blank=True)  # ISA06
    receiver_id = models.CharField(max_length=30, blank=True)  # ISA08
    first_segment = models.IntegerField()
    last_segment = models.IntegerField()
    # who paid whom
    payer_name = models.CharField(max_length=120, blank=True)
    payer_id = models.CharField(max_length=80, blank=True)
    payee_name = models.CharField(max_length=120, blank=True)
    payee_npi = models.CharField(max_length=10, blank=True)
    payee_ncpdp = models.CharField(max_length=20, blank=True)
    payee_tin = models.CharField(max_length=20, blank=True)
    # the payment
    handling_code = models.CharField(max_length=2, blank=True)  # BPR01
    paid_cents = models.BigIntegerField(null=True)  # BPR02 (None: unreadable)
    credit_debit = models.CharField(max_length=1, blank=True)  # BPR03
    method = models.CharField(max_length=3, blank=True)  # BPR04
    payment_date = models.DateField(null=True)  # BPR16
    trace_number = models.CharField(max_length=80, blank=True)  # TRN02
    trace_originator = models.CharField(max_length=20, blank=True)  # TRN03
    production_date = models.DateField(null=True)  # DTM*405
    # what it holds and whether it adds up
    claim_count = models.IntegerField(default=0)
    service_count = models.IntegerField(default=0)
    claim_paid_cents = models.BigIntegerField(default=0)  # sum of CLP04
    provider_adjustment_cents = models.BigIntegerField(default=0)  # sum of PLB amounts
    balanced = models.BooleanField()
    error_count = models.IntegerField(default=0)
    warning_count = models.IntegerField(default=0)
    issues = models.JSONField(default=list)  # reconciliation.x12.Issue as dicts
    fingerprint = models.CharField(max_length=64)  # sha256 of the content, for re-sends
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    loaded_at = models.DateTimeField(auto_now_add=True)

    objects = OrganizationOrLocationScopedQuerySet["Remittance"].as_manager()

    class Meta:
        constraints = [
            # one current version per payer trace: "have we loaded this payment?"
            models.UniqueConstraint(
                fields=["organization", "trace_originator", "trace_number"],
                condition=Q(superseded_by__isnull=True) & ~Q(trace_number=""),
                name="remittance_current_trace",
            )
        ]
        indexes = [
            # remittance list: an organization's (or store's) payments, newest first
            models.Index(fields=["organization", "-payment_date"], name="remit_org_date"),
            models.Index(fields=["location", "-payment_date"], name="remit_store_date"),
        ]

    def __str__(self) -> str:
        return f"{self.payer_name or self.payer_id} {self.trace_number} {self.payment_date}"

    @property
    def is_current(self) -> bool:
        return self.superseded_by_id is None


class ClaimPayment(models.Model):
    """Loop 2100: what the payer did with one claim (CLP). Status 22 is a reversal of an
    earlier payment (negative amounts)."""

    # Claim payments, lines and adjustments are written by the loader together with their
    # parents, in one transaction, with ids it reserved itself: the database does not
    # re-check those references row by row at commit (that cost more than the load). Django
    # still cascades deletes. The (remittance, position) unique index serves `remittance`.
    remittance = models.ForeignKey(
        Remittance,
        on_delete=models.CASCADE,
        related_name="claims",
        db_constraint=False,
        db_index=False,
    )
    organization = models.ForeignKey(
        "rxrevops.Organization",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    location = models.ForeignKey(
        "rxrevops.Location",
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    position = models.IntegerField()  # order in the transaction, from 1
    segment = models.IntegerField()  # file segment number of the CLP
    claim_ref = models.CharField(max_length=50)  # CLP01
    status = models.CharField(max_length=3)  # CLP02
    charge_cents = models.BigIntegerField(null=True)  # CLP03
    paid_cents = models.BigIntegerField(null=True)  # CLP04
    patient_resp_cents = models.BigIntegerField(null=True)  # CLP05
    filing_indicator = models.CharField(max_length=3, blank=True)  # CLP06
    payer_claim_control = models.CharField(max_length=50, blank=True)  # CLP07
    patient_last_name = models.CharField(max_length=60, blank=True)
    patient_first_name = models.CharField(max_length=35, blank=True)
    member_id = models.CharField(max_length=80, blank=True)
    service_date = models.DateField(null=True)  # DTM*232, else the first line's DTM*472
    refs = models.JSONField(default=dict)
    amounts = models.JSONField(default=dict)  # AMT01 -> cents
    balanced = models.BooleanField()
    # the Rx number CLP01 names, in the formats payers use ("RX0012345-01", "12345/1", ...),
    # by the database function recon_claim_rx: read by the incremental runs' key closure,
    # computed once when the payment is written rather than on every run
    claim_rx = models.GeneratedField(
        expression=Func(F("claim_ref"), function="recon_claim_rx"),
        output_field=models.BigIntegerField(null=True),
        db_persist=True,
    )

    objects = OrganizationOrLocationScopedQuerySet["ClaimPayment"].as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["remittance", "position"], name="claim_payment_position"
            )
        ]
        indexes = [
            # matching a claim to what was paid for it (issue 6): store + provider claim ref
            models.Index(fields=["location", "claim_ref"], name="claim_payment_store_ref"),
            # the incremental runs' probe: the payments naming an Rx number and day
            models.Index(
                fields=["claim_rx", "service_date"],
                name="claim_payment_claim_rx_day",
                condition=Q(service_date__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"CLP {self.claim_ref} ({self.status})"

    @property
    def is_reversal(self) -> bool:
        return self.status == "22"


class ServicePayment(models.Model):
    """Loop 2110: one service line (SVC). A pharmacy line is `N4` + the 11-digit NDC."""

    claim = models.ForeignKey(
        ClaimPayment, on_delete=models.CASCADE, related_name="services", db_constraint=False
    )
    position = models.IntegerField()
    segment = models.IntegerField()
    qualifier = models.CharField(max_length=3)  # SVC01-1: N4, HC, ...
    code = models.CharField(max_length=48)  # SVC01-2
    modifiers = models.CharField(max_length=20, blank=True)  # SVC01-3..6, joined with ':'
    charge_cents = models.BigIntegerField(null=True)  # SVC02
    paid_cents = models.BigIntegerField(null=True)  # SVC03
    units = models.DecimalField(max_digits=15, decimal_places=3, null=True)  # SVC05
    service_date = models.DateField(null=True)  # DTM*472 (or 150)
    control_number = models.CharField(max_length=50, blank=True)  # REF*6R
    remarks = models.CharField(max_length=200, blank=True)  # LQ codes, space-separated
    balanced = models.BooleanField()

    def __str__(self) -> str:
        return f"SVC {self.qualifier}:{self.code}"


class Adjustment(models.Model):
    """One CAS group/reason/amount triplet, at claim level (no service) or on a line."""

    claim = models.ForeignKey(
        ClaimPayment, on_delete=models.CASCADE, related_name="adjustments", db_constraint=False
    )
    service = models.ForeignKey(
        ServicePayment,
        null=True,
        on_delete=models.CASCADE,
        related_name="adjustments",
        db_constraint=False,
    )
    segment = models.IntegerField()
    group = models.CharField(max_length=2)  # CO, PR, OA, PI, CR
    reason = models.CharField(max_length=5)  # CARC
    amount_cents = models.BigIntegerField()
    quantity = models.DecimalField(max_digits=15, decimal_places=3, null=True)

    def __str__(self) -> str:
        return f"{self.group}-{self.reason} {self.amount_cents}"


class ProviderAdjustment(models.Model):
    """One PLB reason/amount pair: a fee, interest, recoupment or forward balance at the
    provider level. A positive amount reduces the payment."""

    remittance = models.ForeignKey(
        Remittance, on_delete=models.CASCADE, related_name="provider_adjustments"
    )
    segment = models.IntegerField()
    provider_id = models.CharField(max_length=50, blank=True)  # PLB01
    fiscal_period = models.DateField(null=True)  # PLB02
    reason = models.CharField(max_length=3)  # PLB03-1
    reference = models.CharField(max_length=80, blank=True)  # PLB03-2
    amount_cents = models.BigIntegerField()

    def __str__(self) -> str:
        return f"PLB {self.reason} {self.amount_cents}"


class ClaimResult(models.Model):
    """What one PMS claim really earned and what is still owed: derived by the reconciliation
    run from the claim, every 835 payment matched to it, PLB amounts tied to it, fee lines
    and costs. Rebuilt on every run (replaced, never appended). Money in integer cents."""

    class Status(models.TextChoices):
        PAID = "paid", "Paid in full"
        SHORT_PAID = "short_paid", "Short-paid"
        OVERPAID = "overpaid", "Over-paid"
        PENDING = "pending", "Not yet due"
        UNPAID = "unpaid", "Unpaid (overdue)"
        REVERSED = "reversed", "Reversed"
        REVERSED_BUT_PAID = "reversed_but_paid", "Reversed but paid"
        RECOUPED = "recouped", "Recouped"
        REVERSAL = "reversal", "Reversal transaction"
        CASH = "cash", "Cash (no plan)"

    class Match(models.TextChoices):
        AUTHORIZATION = "authorization", "Payer claim reference (CLP07)"
        RX_FILL_DATE = "rx_fill_date", "Rx number, fill and date of service (CLP01 + DTM)"
        NONE = "", "Not matched"

    # Derived rows are written by COPY in bulk: no database foreign keys (no per-row checks
    # at commit) and no single-column indexes the composite ones below already serve.
    organization = models.ForeignKey(
        "rxrevops.Organization",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    location = models.ForeignKey(
        "rxrevops.Location",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # the claim this result is about (Fill rows keep their id across re-imports)
    fill = models.OneToOneField(
        "claims.Fill", on_delete=models.CASCADE, related_name="result", db_constraint=False
    )
    date_of_service = models.DateField()
    status = models.CharField(max_length=20, choices=Status.choices)
    matched_by = models.CharField(max_length=16, choices=Match.choices, blank=True)
    payments = models.PositiveSmallIntegerField(default=0)  # 835 claim payments matched
    expected_cents = models.BigIntegerField()  # the plan paid at adjudication
    remitted_cents = models.BigIntegerField(default=0)  # net of every matched CLP04
    recouped_cents = models.BigIntegerField(default=0)  # PLB take-backs tied to the claim
    dir_cents = models.BigIntegerField(default=0)  # DIR/fees withheld on the remit (CAS)
    variance_cents = models.BigIntegerField(default=0)  # remitted - recouped - expected
    fees_actual_cents = models.BigIntegerField(default=0)
    fees_estimated_cents = models.BigIntegerField(default=0)
    acquisition_cents = models.BigIntegerField(default=0)
    acquisition_source = models.CharField(max_length=12, blank=True)  # invoice | nadac | pms
    net_margin_cents = models.BigIntegerField(default=0)
    due_on = models.DateField(null=True)
    age_bucket = models.CharField(max_length=6, blank=True)  # 0-30, 31-60, 61-90, 90+
    below_cost = models.BooleanField(default=False)
    reasons = models.JSONField(default=list)  # CARC/RARC/PLB codes with amounts
    # the run that wrote the row (an incremental run rewrites only the rows it touched)
    job = models.ForeignKey(
        "rxrevops.Job",
        null=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    computed_at = models.DateTimeField()
    # a hash of the row's content (every column above but the job and time): how a full
    # rebuild finds the rows it must rewrite without reading them back
    digest = models.BigIntegerField(default=0)

    objects = ReconciliationQuerySet["ClaimResult"].as_manager()

    class Meta:
        indexes = [
            # the workbench lists a store's exceptions by status and age
            models.Index(fields=["location", "status", "date_of_service"]),
            models.Index(fields=["organization", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.fill_id}: {self.status}"


class PaymentMatch(models.Model):
    """Which claim an 835 claim payment was matched to by the latest run, and how (derived,
    replaced by every run): the claim's story reads its payments from here."""

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    payment = models.OneToOneField(
        ClaimPayment, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    fill = models.ForeignKey(
        "claims.Fill", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    how = models.CharField(max_length=16)
    digest = models.BigIntegerField(default=0)  # a hash of the row's content (see ClaimResult)

    def __str__(self) -> str:
        return f"payment {self.payment_id} -> fill {self.fill_id}"


class UnmatchedPayment(models.Model):
    """An 835 claim payment no claim was found for: kept, never dropped, until a run
    matches it."""

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="+"
    )
    location = models.ForeignKey(
        "rxrevops.Location", null=True, on_delete=models.CASCADE, related_name="+"
    )
    payment = models.OneToOneField(ClaimPayment, on_delete=models.CASCADE, related_name="+")
    paid_cents = models.BigIntegerField()
    reason = models.CharField(max_length=200)
    job = models.ForeignKey(
        "rxrevops.Job",
        null=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )

    objects = OrganizationOrLocationScopedQuerySet["UnmatchedPayment"].as_manager()

    def __str__(self) -> str:
        return f"unmatched payment {self.payment_id}"


class PlbAllocation(models.Model):
    """Where a PLB amount went: tied to a claim by its reference, or allocated by the
    documented rule (pro rata to the remittance's paid claims), marked as allocated."""

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    adjustment = models.ForeignKey(
        ProviderAdjustment,
        on_delete=models.CASCADE,
        related_name="allocations",
        db_constraint=False,
    )
    fill = models.ForeignKey(
        "claims.Fill", null=True, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    amount_cents = models.BigIntegerField()
    allocated = models.BooleanField()  # True: by rule; False: tied by reference
    job = models.ForeignKey(
        "rxrevops.Job",
        null=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )

    def __str__(self) -> str:
        return f"PLB {self.adjustment_id} -> {self.fill_id}: {self.amount_cents}"


class ReconcileState(models.Model):
    """Where an organization's derived rows stand: the date they were reconciled as of and
    the run that last wrote them. Written in the run's transaction, so an incremental run
    knows exactly what the rows it builds on were computed from."""

    organization = models.OneToOneField(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    as_of = models.DateField()
    job = models.ForeignKey(
        "rxrevops.Job",
        null=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    full_job = models.ForeignKey(
        "rxrevops.Job",
        null=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )  # the last full rebuild
    # the payer contracts and payment defaults the rows were computed with: a change to them
    # makes the next run a full one
    fingerprint = models.CharField(max_length=64, blank=True)
    # the organization's figures after that run (an incremental run adds its part's change)
    totals = models.JSONField(default=dict)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"reconciled as of {self.as_of}"


class ConsumedImport(models.Model):
    """An import job whose rows a run has taken into the results. Its changes are found by
    the job (fills' source job, remittances', fee lines' and invoice lines' job), recorded in
    the run's own transaction: an import that finishes while a run reads is left for the
    next run, never half taken."""

    job = models.OneToOneField(
        "rxrevops.Job",
        on_delete=models.CASCADE,
        related_name="+",
        primary_key=True,
    )
    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="+"
    )
    run = models.ForeignKey(
        "rxrevops.Job",
        null=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )

    def __str__(self) -> str:
        return f"import {self.job_id} consumed by run {self.run_id}"


# other reconciliation sub-domains keep their models in their own modules, registered here
from reconciliation.case_models import *  # noqa: E402,F403
from reconciliation.contract_models import *  # noqa: E402,F403
from reconciliation.input_models import *  # noqa: E402,F403
