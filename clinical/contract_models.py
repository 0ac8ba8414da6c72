"""Value-based contracts: what a health plan pays the chain for quality.

A `ValueBasedContract` names the plans it covers by BIN, PCN and group as claims carry them
(PCN and group may be `*`: any), a measurement year, a per-member-per-month (PMPM) payment,
and its quality terms: one `ContractMeasure` per measure with the threshold rate that earns
its bonus. The contract is terms (entered by an owner); the scorecard is derived from fills,
measure results, care gaps and MTM encounters each time it is read (`clinical.contracts`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

if TYPE_CHECKING:
    from rxrevops.access import Principal

__all__ = ["ContractMeasure", "ValueBasedContract"]

WILDCARD = "*"


class ValueBasedContractQuerySet(models.QuerySet["ValueBasedContract"]):
    def for_user(self, user: Principal) -> ValueBasedContractQuerySet:
        """Contracts of the principal's organizations, also for a user scoped to some of its
        stores: the terms are the chain's, and the scorecard shows such a user only the
        patients of their stores (`clinical.contract_selectors`)."""
        from rxrevops.access import organization_ids_for_user

        return self.filter(organization__in=organization_ids_for_user(user))


class ValueBasedContract(models.Model):
    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(max_length=200)
    payer_name = models.CharField(max_length=200)
    bin = models.CharField(
        "BIN", max_length=6, validators=[RegexValidator(r"^\d{6}$", "A BIN is 6 digits.")]
    )
    # "*" matches any PCN / group; a blank entry is stored as "*" (see clean)
    pcn = models.CharField("PCN", max_length=20, default=WILDCARD, blank=True)
    group = models.CharField(max_length=20, default=WILDCARD, blank=True)
    measurement_year = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(2000), MaxValueValidator(2100)]
    )
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    pmpm_cents = models.BigIntegerField(
        "per member per month (cents)", default=0, validators=[MinValueValidator(0)]
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ValueBasedContractQuerySet.as_manager()

    class Meta:
        ordering = ["-measurement_year", "name", "pk"]
        indexes = [
            # the contract list and the plan matching read one organization's year
            models.Index(fields=["organization", "measurement_year"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.measurement_year})"

    def clean(self) -> None:
        # normalize at the edge: blank PCN/group means any, stored as "*"
        self.pcn = self.pcn.strip() or WILDCARD
        self.group = self.group.strip() or WILDCARD
        if self.effective_to and self.effective_to < self.effective_from:
            raise ValidationError({"effective_to": "The contract ends before it starts."})

    @property
    def plan_label(self) -> str:
        return f"{self.bin} / {self.pcn} / {self.group}"


class ContractMeasure(models.Model):
    """One quality term: the measure's rate must reach `threshold_percent` to earn
    `bonus_cents`. `weight` (optional) weights the measure in the contract's score."""

    class Code(models.TextChoices):
        PDC_DR = "PDC-DR", "Adherence: diabetes medications (PDC-DR)"
        PDC_RASA = "PDC-RASA", "Adherence: RAS antagonists (PDC-RASA)"
        PDC_STA = "PDC-STA", "Adherence: statins (PDC-STA)"
        SUPD = "SUPD", "Statin use in persons with diabetes (SUPD)"
        CMR = "CMR", "CMR completion rate"
        IMM_FLU = "IMM-FLU", "Flu vaccination, current season"

    contract = models.ForeignKey(
        ValueBasedContract, on_delete=models.CASCADE, related_name="measures"
    )
    measure = models.CharField(max_length=16, choices=Code.choices)
    threshold_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Rate at or above which the bonus is earned, e.g. 80.00",
    )
    bonus_cents = models.BigIntegerField(default=0, validators=[MinValueValidator(0)])
    weight = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["contract", "measure"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "measure"], name="contract_measure_once")
        ]

    def __str__(self) -> str:
        return f"{self.measure} ≥ {self.threshold_percent}%"
