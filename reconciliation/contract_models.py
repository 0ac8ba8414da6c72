"""Payer contracts: models.

A `PayerContract` row is one *version* of the chain's contract for the plans it names by BIN,
PCN and group (PCN and group may be `*`: any): its reimbursement terms (how brand and
generic claims are priced), the fee terms used to estimate fees until the PBM's statement
arrives, and the payment terms (days to pay, grace). A new version is a new row with a later
effective_from for the same (organization, BIN, PCN, group); versions of one key never
overlap (`reconciliation.services.contracts` checks it and closes the previous version).
The arithmetic is `reconciliation.engine.contracts`; the engine reads the versions as its
dataclasses through `reconciliation.contract_selectors.contracts_in_effect`.

Money is integer cents; percents are Decimal percent (16.5 = 16.5%), never float.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

from reconciliation.engine import contracts as core
from rxrevops.querysets import OrganizationScopedQuerySet

__all__ = ["PayerContract"]

_BASIS_CHOICES = list(core.BASES.items())
_PERCENT = {"max_digits": 7, "decimal_places": 3}


def _percent_field(label: str, help_text: str, **kw: object) -> models.DecimalField:
    return models.DecimalField(label, help_text=help_text, **_PERCENT, **kw)  # type: ignore[arg-type]


class PayerContract(models.Model):
    class ContractType(models.TextChoices):
        FFS = core.FFS, "Fee-for-service"
        VALUE_BASED = core.VALUE_BASED, "Value-based"

    class Basis(models.TextChoices):
        TRUST = core.TRUST, core.BASES[core.TRUST]
        AWP_MINUS = core.AWP_MINUS, core.BASES[core.AWP_MINUS]
        WAC_PLUS = core.WAC_PLUS, core.BASES[core.WAC_PLUS]
        MAC = core.MAC, core.BASES[core.MAC]
        NADAC_PLUS = core.NADAC_PLUS, core.BASES[core.NADAC_PLUS]

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(max_length=200)
    payer_name = models.CharField(max_length=200)
    bin = models.CharField(
        "BIN", max_length=6, validators=[RegexValidator(r"^\d{6}$", "A BIN is 6 digits.")]
    )
    # "*" matches any PCN / group; blank is stored as "*" and codes in upper case (see clean)
    pcn = models.CharField("PCN", max_length=20, default=core.WILDCARD, blank=True)
    group = models.CharField(max_length=20, default=core.WILDCARD, blank=True)
    contract_type = models.CharField(
        max_length=12, choices=ContractType.choices, default=ContractType.FFS
    )
    effective_from = models.DateField()
    effective_to = models.DateField(
        null=True, blank=True, help_text="Last day of this version (inclusive); empty: open."
    )

    # reimbursement: what the plan should pay per claim
    brand_basis = models.CharField(max_length=12, choices=Basis.choices, default=Basis.TRUST)
    brand_percent = _percent_field(
        "brand percent", "AWP minus / WAC plus this percent, e.g. 17.000", default=Decimal(0)
    )
    brand_dispensing_fee_cents = models.BigIntegerField(
        "brand dispensing fee (cents)", default=0, validators=[MinValueValidator(0)]
    )
    generic_basis = models.CharField(max_length=12, choices=Basis.choices, default=Basis.TRUST)
    generic_percent = _percent_field(
        "generic percent",
        "AWP minus / WAC plus / NADAC plus this percent (NADAC may be negative)",
        default=Decimal(0),
    )
    generic_dispensing_fee_cents = models.BigIntegerField(
        "generic dispensing fee (cents)", default=0, validators=[MinValueValidator(0)]
    )
    lesser_of_usual_customary = models.BooleanField(
        "pays the lesser of the contract price and U&C",
        default=True,
        help_text="The plan pays the claim's usual & customary price when that is lower.",
    )

    # fee terms: estimates until the PBM's fee statement arrives
    fee_per_claim_cents = models.BigIntegerField(
        "fees per paid claim (cents)",
        default=0,
        validators=[MinValueValidator(0)],
        help_text="Flat fees charged on every paid claim: transaction, network.",
    )
    fee_pct_of_ingredient = _percent_field(
        "fee % of ingredient cost paid",
        "Performance / DIR-like fees as a percent of the ingredient cost paid.",
        default=Decimal(0),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    fee_pct_of_plan_paid = _percent_field(
        "fee % of plan paid",
        "Fees charged as a percent of what the plan paid.",
        default=Decimal(0),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    generic_effective_rate = _percent_field(
        "generic effective rate (AWP - %)",
        "Target generic effective rate as an AWP discount, e.g. 85.000 for AWP - 85%; "
        "the estimate is the claim's ingredient paid above (or below) the target.",
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    brand_effective_rate = _percent_field(
        "brand effective rate (AWP - %)",
        "Target brand effective rate as an AWP discount, e.g. 18.000.",
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )

    # payment terms
    days_to_pay = models.PositiveSmallIntegerField(
        default=30, help_text="Days from the date of service by which the plan pays."
    )
    grace_days = models.PositiveSmallIntegerField(
        default=0, help_text="Days after the due date before an unpaid claim counts as overdue."
    )
    pay_cycle_days = models.PositiveSmallIntegerField(
        default=0, help_text="The plan pays every N days (0: any day)."
    )
    pay_cycle_anchor = models.DateField(
        null=True, blank=True, help_text="One of the plan's pay days (with a pay cycle)."
    )

    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrganizationScopedQuerySet["PayerContract"].as_manager()

    class Meta:
        ordering = ["payer_name", "bin", "pcn", "group", "-effective_from", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=F("effective_from")),
                name="payer_contract_ends_after_start",
            ),
            # the cheap half of "versions never overlap" (the services check the rest)
            models.UniqueConstraint(
                fields=["organization", "bin", "pcn", "group", "effective_from"],
                name="payer_contract_version_start",
            ),
        ]
        indexes = [
            # contracts_in_effect and the version list read one organization's BINs
            models.Index(fields=["organization", "bin", "effective_from"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.plan_label}, from {self.effective_from})"

    def clean(self) -> None:
        # normalize at the edge: codes trimmed and upper-cased, blank PCN/group means any
        self.bin = (self.bin or "").strip()
        self.pcn = core.normalize_code(self.pcn)
        self.group = core.normalize_code(self.group)
        errors: dict[str, str] = {}
        if self.effective_to and self.effective_from and self.effective_to < self.effective_from:
            errors["effective_to"] = "This version ends before it starts."
        if self.pay_cycle_days and self.pay_cycle_anchor is None:
            errors["pay_cycle_anchor"] = "Give one date the plan paid on, to place its cycle."
        for cls in ("brand", "generic"):
            basis = getattr(self, f"{cls}_basis")
            percent = getattr(self, f"{cls}_percent")
            if percent is None:
                continue
            if basis not in core.PERCENT_BASES and percent != 0:
                errors[f"{cls}_percent"] = f"{core.BASES[basis]} takes no percent; leave it 0."
            elif basis == core.AWP_MINUS and not 0 <= percent < 100:
                errors[f"{cls}_percent"] = "AWP minus a percent from 0 to 99.999."
            elif basis == core.WAC_PLUS and not 0 <= percent <= 100:
                errors[f"{cls}_percent"] = "WAC plus a percent from 0 to 100."
            elif basis == core.NADAC_PLUS and not -100 < percent <= 100:
                errors[f"{cls}_percent"] = "NADAC plus a percent from -99.999 to 100."
        if errors:
            raise ValidationError(errors)

    @property
    def plan_label(self) -> str:
        return f"{self.bin} / {self.pcn} / {self.group}"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.bin, self.pcn, self.group)
