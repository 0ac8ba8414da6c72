"""Rollups the owner dashboards read: derived rows, rebuilt from reconciliation results by
`dashboards.services.rollups` (never edited by hand). Money is integer cents."""

from __future__ import annotations

from django.db import models

from rxrevops.querysets import ReconciliationQuerySet


class MarginFigures(models.Model):
    """The summed figures every margin rollup carries (their meaning: `MarginDaily`)."""

    claims = models.IntegerField()
    generic_claims = models.IntegerField()
    revenue_cents = models.BigIntegerField()
    plan_paid_cents = models.BigIntegerField()
    acquisition_cents = models.BigIntegerField()
    fees_actual_cents = models.BigIntegerField()
    fees_estimated_cents = models.BigIntegerField()
    dir_cents = models.BigIntegerField()
    net_margin_cents = models.BigIntegerField()
    below_cost_claims = models.IntegerField()
    below_cost_cents = models.BigIntegerField()
    remitted_cents = models.BigIntegerField()
    unreconciled_0_30_cents = models.BigIntegerField()
    unreconciled_31_60_cents = models.BigIntegerField()
    unreconciled_61_90_cents = models.BigIntegerField()
    unreconciled_90_plus_cents = models.BigIntegerField()

    class Meta:
        abstract = True


class MarginDaily(MarginFigures):
    """One store's claims of one date of service, per plan (the payer as the claim names
    it), drug class, generic/brand and contract type, summed from `reconciliation.ClaimResult`
    (the latest run's per-claim figures) and `claims.Fill`.

    What each column is, per claim, summed (see `dashboards.services.rollups` for the SQL):

    - `claims`: dispensed scripts: every result but a reversal transaction (B2) and a claim
      reversed in the PMS (`generic_claims`: of those, not brand);
    - `revenue_cents`: plan paid at adjudication + patient pay, of dispensed scripts;
    - `plan_paid_cents`: plan paid at adjudication, of dispensed third-party scripts;
    - `acquisition_cents`: the cost the run used (invoice, else NADAC, else PMS);
    - `fees_actual_cents` / `fees_estimated_cents`: of dispensed third-party scripts, the fee
      statements' lines, and the contract's estimate for scripts no line arrived for yet:
      together, the fees net margin subtracts;
    - `dir_cents`: DIR/fees withheld on the 835 (CAS);
    - `net_margin_cents`: the run's net margin (`ClaimResult.net_margin_cents`): money
      received (promised, while not yet due) + patient pay - PLB fees allocated - fees -
      acquisition; 0 for what was not dispensed;
    - `below_cost_claims` / `below_cost_cents`: the run's below-cost flag (plan paid + patient
      pay < acquisition) and the shortfall acquisition - (plan paid + patient pay);
    - `remitted_cents`: what the 835s paid on the claims (every result, reversals included,
      so it adds up to the run's matched total);
    - `unreconciled_*_cents`: open items (pending, unpaid, short-paid) by the run's age bucket
      of the date of service: plan paid - remitted - DIR withheld (what is still owed).
    """

    # Rebuilt in bulk by INSERT ... SELECT: no database foreign keys (no per-row checks)
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
    day = models.DateField()  # date of service
    plan = models.ForeignKey(
        "claims.Plan",
        null=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )  # None: cash (no plan)
    drug_class = models.CharField(max_length=16, blank=True)  # PQA value-set class; "" other
    brand = models.BooleanField()
    # the payer contract in effect for the plan on the day: ffs | value_based | "" (none)
    contract_type = models.CharField(max_length=12, blank=True)

    # owners and revenue staff of the store, as the results it is summed from
    objects = ReconciliationQuerySet["MarginDaily"].as_manager()

    class Meta:
        constraints = [
            # one row per store, day and group; its index serves every dashboard read: the
            # visible stores (`location IN (...)`) over a date range, then grouped
            models.UniqueConstraint(
                fields=["location", "day", "plan", "drug_class", "brand", "contract_type"],
                name="margin_daily_once",
                nulls_distinct=False,
            )
        ]
        indexes = [
            # the refresh: DELETE an organization's rows (all, or of some days)
            models.Index(fields=["organization", "day"], name="margin_daily_org_day"),
        ]

    def __str__(self) -> str:
        return f"{self.location_id} {self.day}: {self.claims} claims"


class BelowCostDaily(models.Model):
    """Below-cost scripts of one store, date of service and drug: the overview's "below cost
    by drug" chart and the drug page. Rebuilt with `MarginDaily` in the same refresh, from the
    same per-claim rows (`below_cost` of a dispensed script, shortfall acquisition - (plan
    paid + patient pay))."""

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
    day = models.DateField()
    drug = models.ForeignKey(
        "claims.Drug",
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    claims = models.IntegerField()
    shortfall_cents = models.BigIntegerField()

    objects = ReconciliationQuerySet["BelowCostDaily"].as_manager()

    class Meta:
        constraints = [
            # the chart's read: the visible stores over a date range, summed per drug
            models.UniqueConstraint(
                fields=["location", "day", "drug"], name="below_cost_daily_once"
            )
        ]
        indexes = [
            # the refresh: DELETE an organization's rows (all, or of some days)
            models.Index(fields=["organization", "day"], name="below_cost_daily_org_day"),
        ]

    def __str__(self) -> str:
        return f"{self.location_id} {self.day} drug {self.drug_id}: {self.claims}"


class MarginStoreDaily(MarginFigures):
    """`MarginDaily` summed per store, day and plan (drug class, brand and contract type
    folded in): what the overview, the store and payer pages and the groupings by store,
    payer, day and month read, at a fifth or less of the rows. Rebuilt from `MarginDaily`
    in the same refresh transaction, so the two always agree."""

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
    day = models.DateField()
    plan = models.ForeignKey(
        "claims.Plan",
        null=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )

    objects = ReconciliationQuerySet["MarginStoreDaily"].as_manager()

    class Meta:
        constraints = [
            # the pages' reads: the visible stores over a date range, then grouped
            models.UniqueConstraint(
                fields=["location", "day", "plan"],
                name="margin_store_daily_once",
                nulls_distinct=False,
            )
        ]
        indexes = [
            # the refresh: DELETE an organization's rows (all, or of some days)
            models.Index(fields=["organization", "day"], name="margin_store_daily_org_day"),
        ]

    def __str__(self) -> str:
        return f"{self.location_id} {self.day}: {self.claims} claims"
