"""The claims behind a dashboard figure: the per-claim reconciliation results whose sum the
figure is, narrowed by the same dimensions the rollups group by (dates of service, store,
plan, drug class, brand/generic, contract type), with their totals computed from the claims
themselves (not from the rollups), so the page shows the figure and proves it.

Each figure names the claims it sums and the amount per claim (`FIGURES`); the same words
are on the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import Http404

from claims.models import Drug
from dashboards.models import MarginDaily
from dashboards.services.rollups import drug_classes
from reconciliation.models import ClaimResult, FeeLine
from rxrevops.access import Principal, location_ids_for_user
from rxrevops.querysets import ReconciliationQuerySet

_CENTS = BigIntegerField()
_VOID = ("reversal", "reversed")


@dataclass(frozen=True)
class Figure:
    label: str
    claims: str  # which claims it sums
    amount: str  # the amount per claim
    column: str  # the annotation summed (see `_amounts`)


FIGURES = {
    "net_margin": Figure(
        "Net margin", "every claim of the dates (void ones add 0)", "the claim's net margin",
        "net_margin",
    ),
    "revenue": Figure(
        "Revenue", "scripts dispensed", "plan paid at adjudication + patient pay", "revenue",
    ),
    "fees": Figure(
        "Fees + DIR", "scripts dispensed to a plan",
        "statement fees (else the contract's estimate) + DIR withheld on the 835s", "fees",
    ),
    "below_cost": Figure(
        "Below cost", "scripts paid below cost (plan paid + patient pay < acquisition)",
        "acquisition - plan paid - patient pay", "shortfall",
    ),
    "generic": Figure(
        "Generic scripts", "generic scripts dispensed", "plan paid + patient pay", "revenue",
    ),
    "unreconciled": Figure(
        "Unreconciled", "claims not yet paid in full (pending, unpaid, short-paid)",
        "plan paid - remitted - DIR withheld", "owed",
    ),
}  # fmt: skip
AGE_BUCKETS = ("0-30", "31-60", "61-90", "90+")


@dataclass(frozen=True)
class FigureFilters:
    start: date
    end: date
    figure: str = "net_margin"
    location: int | None = None
    plan: int | None = None
    cash: bool = False  # claims without a plan (cash), instead of one plan
    drug_class: str | None = None  # a class code, "" for "other", None for any
    brand: bool | None = None
    contract_type: str | None = None  # ffs | value_based | "" (none) | None (any)
    drug: int | None = None
    age: str = ""  # unreconciled only: one age bucket


def class_drug_ids(drug_class: str) -> list[int] | tuple[str, list[int]]:
    """The drug ids of a class the way the rollups decide it (the drug's own adherence class,
    else its PQA value-set class); for "" (other), ("exclude", the ids of every class)."""
    by_ndc = drug_classes()
    in_class: dict[str, list[int]] = {}
    for pk, ndc, own in Drug.objects.values_list("pk", "ndc", "adherence_class"):
        cls = own or by_ndc.get(ndc, "")
        if cls:
            in_class.setdefault(cls, []).append(pk)
    if drug_class == "":
        return ("exclude", [pk for ids in in_class.values() for pk in ids])
    return in_class.get(drug_class, [])


def _fee_lines() -> Any:
    return FeeLine.objects.filter(
        location_id=OuterRef("fill__location_id"),
        rx_number=OuterRef("fill__rx_number"),
        fill_number=OuterRef("fill__fill_number"),
        date_of_service=OuterRef("fill__date_of_service"),
        transaction_code=OuterRef("fill__transaction_code"),
    )


def _amounts() -> dict[str, Any]:
    patient = F("fill__patient_pay_cents")
    expected = F("expected_cents")
    return {
        "revenue": ExpressionWrapper(expected + patient, output_field=_CENTS),
        # the statement's fees once a line arrived for the claim (matched as the run matches
        # them), else the contract's estimate; plus DIR withheld on the 835s
        "fees": ExpressionWrapper(
            Case(
                When(Exists(_fee_lines()), then=F("fees_actual_cents")),
                default=F("fees_estimated_cents"),
            )
            + F("dir_cents"),
            output_field=_CENTS,
        ),
        "shortfall": ExpressionWrapper(
            F("acquisition_cents") - expected - patient, output_field=_CENTS
        ),
        "owed": ExpressionWrapper(
            expected - F("remitted_cents") - F("dir_cents"), output_field=_CENTS
        ),
        "net_margin": F("net_margin_cents"),
    }


def figure_claims_for_user(user: Principal, f: FigureFilters) -> Any:
    """The results behind figure `f.figure` (see FIGURES), newest first (`with_amounts` adds
    each claim's amounts); 404 for a store the principal cannot see."""
    if f.figure not in FIGURES:
        raise ValueError(f"figure must be one of {', '.join(FIGURES)}")
    qs = ClaimResult.objects.for_user(user).filter(
        date_of_service__gte=f.start, date_of_service__lte=f.end
    )
    if f.location is not None:
        if f.location not in location_ids_for_user(user, roles=ReconciliationQuerySet.viewer_roles):
            raise Http404("Not found")
        qs = qs.filter(location_id=f.location)
    if f.cash:
        qs = qs.filter(fill__plan__isnull=True)
    elif f.plan is not None:
        qs = qs.filter(fill__plan_id=f.plan)
    if f.drug is not None:
        qs = qs.filter(fill__drug_id=f.drug)
    if f.drug_class is not None:
        ids = class_drug_ids(f.drug_class)
        if isinstance(ids, tuple):
            qs = qs.exclude(fill__drug_id__in=ids[1])
        else:
            qs = qs.filter(fill__drug_id__in=ids)
    if f.brand is not None:
        qs = qs.filter(fill__drug__is_brand=f.brand)
    if f.contract_type is not None:
        # the contract in effect for the plan on the day, as the rollups recorded it
        contract = Exists(
            MarginDaily.objects.filter(
                location_id=OuterRef("location_id"),
                day=OuterRef("date_of_service"),
                plan_id=OuterRef("fill__plan_id"),
                contract_type=f.contract_type,
            )
        )
        # cash claims and claims without a plan have no contract
        none = contract | Q(status="cash") | Q(fill__plan__isnull=True)
        qs = qs.filter(none if f.contract_type == "" else contract)
    dispensed = ~Q(status__in=_VOID)
    third_party = dispensed & ~Q(status="cash")
    if f.figure in ("revenue", "generic"):
        qs = qs.filter(dispensed)
        if f.figure == "generic":
            qs = qs.filter(fill__drug__is_brand=False)
    elif f.figure == "fees":
        qs = qs.filter(third_party)
    elif f.figure == "below_cost":
        qs = qs.filter(dispensed, below_cost=True)
    elif f.figure == "unreconciled":
        qs = qs.exclude(age_bucket="")
        if f.age in AGE_BUCKETS:
            qs = qs.filter(age_bucket=f.age)
    return qs.order_by("-date_of_service", "-fill_id")


def with_amounts(qs: Any) -> Any:
    """The claims of `figure_claims_for_user` with every per-claim amount, for showing them
    (a page of them, an export): the fee-line probe runs per row shown, not per claim."""
    return qs.annotate(**_amounts()).select_related("fill__drug", "fill__plan", "location")


def figure_totals(qs: Any, figure: str) -> dict[str, int]:
    """Claims and the figure's sum over the claims (plain SUM, not the rollups); only the
    figure's own amount is computed."""
    column = FIGURES[figure].column
    totals = (
        qs.order_by()
        .annotate(amount=_amounts()[column])
        .aggregate(claims=Count("pk"), total=Coalesce(Sum("amount"), Value(0), output_field=_CENTS))
    )
    return {"claims": int(totals["claims"]), "total_cents": int(totals["total"])}
