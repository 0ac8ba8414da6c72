"""Read side of reconciliation results: the central team's exceptions with the dollars at
stake, one claim's whole story, the MAC appeal worklist and the reconciliation runs.

Results are derived rows (`ClaimResult`, rebuilt by every run); cases and notes
(`ExceptionCase`, `CaseNote`) are the people's work on them and survive runs. Everything
here goes through `.for_user(user)` or `object_get_for_user`.

**Dollars at stake** per exception kind, in cents, from the result's columns:

- short-paid: expected - remitted - DIR (what the payer still owes against the promise to
  pay; DIR withheld on the remit is a fee, not a short-pay);
- unpaid: expected (nothing arrived by the due date);
- overpaid: remitted + DIR - expected (owed back to the payer);
- reversed-but-paid: remitted (the claim was reversed in the PMS: all of it is owed back);
- recouped: what was taken back (a PLB take-back tied to the claim or a CLP02-22 reversal),
  measured against the promise: expected - DIR - (remitted - recouped);
- below cost: acquisition - (expected + patient pay) (the loss on the script, before fees;
  acquisition is the cost the run used: the store's invoice, else NADAC, else the PMS cost).

`below_cost` is a flag, not a status: a short-paid claim can also be below cost, so the
below-cost tile overlaps the others. In the unfiltered list each claim appears once, under its
status when that is an exception, else as below cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Greatest, Round
from django.db.models.lookups import GreaterThanOrEqual

from claims.models import Fill
from reconciliation.case_models import CaseNote, ExceptionCase
from reconciliation.models import (
    AcquisitionCost,
    Adjustment,
    ClaimPayment,
    ClaimResult,
    FeeLine,
    NadacPrice,
    PaymentMatch,
    PlbAllocation,
    ServicePayment,
)
from reconciliation.services.runs import JOB_KIND
from rxrevops.access import Principal, object_get_for_user
from rxrevops.models import Job

# exception kinds in the order the workbench shows them; all but below_cost are statuses
STATUS_KINDS = ("short_paid", "unpaid", "overpaid", "reversed_but_paid", "recouped")
BELOW_COST = "below_cost"
EXCEPTION_KINDS = (*STATUS_KINDS, BELOW_COST)
KIND_LABELS = {
    "short_paid": "Short-paid",
    "unpaid": "Unpaid (overdue)",
    "overpaid": "Over-paid",
    "reversed_but_paid": "Reversed but paid",
    "recouped": "Recouped",
    BELOW_COST: "Below cost",
}
AGE_BUCKETS = ("0-30", "31-60", "61-90", "90+")
CASE_STATUSES = ("open", "in_progress", "appealed", "resolved", "written_off")

_CENTS = BigIntegerField()


def _cents(expression: Any) -> ExpressionWrapper:
    return ExpressionWrapper(expression, output_field=_CENTS)


def stake_expression(kind: str) -> Any:
    """The dollars at stake of one exception kind (see the module doc), as an expression
    over ClaimResult."""
    expected, remitted, dirs = F("expected_cents"), F("remitted_cents"), F("dir_cents")
    if kind == "short_paid":
        return _cents(expected - remitted - dirs)
    if kind == "unpaid":
        return _cents(expected)
    if kind == "overpaid":
        return _cents(remitted + dirs - expected)
    if kind == "reversed_but_paid":
        return _cents(remitted)
    if kind == "recouped":
        return _cents(expected - dirs - remitted + F("recouped_cents"))
    if kind == BELOW_COST:
        return _cents(F("acquisition_cents") - expected - F("fill__patient_pay_cents"))
    raise ValueError(f"unknown exception kind {kind!r}")


def _row_kind() -> Case:
    return Case(
        *[When(status=k, then=Value(k)) for k in STATUS_KINDS],
        default=Value(BELOW_COST),
        output_field=CharField(),
    )


def _row_stake() -> Case:
    return Case(
        *[When(status=k, then=stake_expression(k)) for k in STATUS_KINDS],
        default=stake_expression(BELOW_COST),
        output_field=_CENTS,
    )


def _case_status() -> Coalesce:
    return Coalesce(F("fill__case__status"), Value("open"), output_field=CharField())


@dataclass(frozen=True)
class ExceptionFilters:
    kind: str = ""  # one of EXCEPTION_KINDS; "" = every exception
    location_id: int | None = None
    payer: str = ""  # plan name (any part) or BIN
    age: str = ""  # an age bucket of an open item (unpaid, short-paid): 0-30 ... 90+
    min_cents: int | None = None  # at least this much at stake
    case_status: str = ""  # open (including no case yet), in_progress, appealed, ...


def _scoped(user: Principal, f: ExceptionFilters) -> Any:
    """Results the principal may see, narrowed by every filter except kind and amount."""
    qs: Any = ClaimResult.objects.for_user(user)
    if f.location_id:
        qs = qs.filter(location_id=f.location_id)
    if f.payer:
        qs = qs.filter(Q(fill__plan__name__icontains=f.payer) | Q(fill__plan__bin=f.payer))
    if f.age:
        # the run ages what is still owed (unpaid, short-paid); other exceptions have no age
        qs = qs.filter(age_bucket=f.age)
    if f.case_status:
        qs = qs.alias(case_state=_case_status()).filter(case_state=f.case_status)
    return qs


def exceptions_for_user(
    user: Principal,
    *,
    kind: str = "",
    location_id: int | None = None,
    payer: str = "",
    age: str = "",
    min_cents: int | None = None,
    case_status: str = "",
) -> Any:
    """Exceptions the principal may see, each annotated with `kind`, `at_stake_cents` and
    `case_status` ("open" when nobody has opened a case), most money first."""
    f = ExceptionFilters(kind, location_id, payer, age, min_cents, case_status)
    qs = _scoped(user, f)
    if kind == BELOW_COST:
        qs = qs.filter(below_cost=True).annotate(
            kind=Value(BELOW_COST, output_field=CharField()),
            at_stake_cents=stake_expression(BELOW_COST),
        )
    elif kind in STATUS_KINDS:
        qs = qs.filter(status=kind).annotate(
            kind=Value(kind, output_field=CharField()), at_stake_cents=stake_expression(kind)
        )
    else:
        qs = qs.filter(Q(status__in=STATUS_KINDS) | Q(below_cost=True)).annotate(
            kind=_row_kind(), at_stake_cents=_row_stake()
        )
    if min_cents is not None:
        qs = qs.filter(at_stake_cents__gte=min_cents)
    return (
        qs.annotate(case_status=_case_status())
        .select_related("location", "fill", "fill__plan", "fill__drug", "fill__patient")
        .order_by("-at_stake_cents", "-date_of_service", "-pk")
    )


@dataclass(frozen=True)
class KindTotal:
    kind: str
    label: str
    count: int
    cents: int


def exception_summary_for_user(
    user: Principal,
    *,
    location_id: int | None = None,
    payer: str = "",
    age: str = "",
    min_cents: int | None = None,
    case_status: str = "",
) -> list[KindTotal]:
    """Count and dollars at stake per exception kind under the same filters as the list,
    in one query. The below-cost total overlaps the others (it is a flag)."""
    f = ExceptionFilters("", location_id, payer, age, min_cents, case_status)
    aggregates: dict[str, Any] = {}
    for kind in EXCEPTION_KINDS:
        which = Q(below_cost=True) if kind == BELOW_COST else Q(status=kind)
        if min_cents is not None:
            which &= Q(GreaterThanOrEqual(stake_expression(kind), min_cents))
        aggregates[f"n_{kind}"] = Count("pk", filter=which)
        aggregates[f"c_{kind}"] = Coalesce(Sum(stake_expression(kind), filter=which), 0)
    totals = _scoped(user, f).aggregate(**aggregates)
    return [
        KindTotal(k, KIND_LABELS[k], totals[f"n_{k}"], int(totals[f"c_{k}"]))
        for k in EXCEPTION_KINDS
    ]


def result_list_for_user(
    user: Principal,
    *,
    status: str = "",
    location_ncpdp: str = "",
    since: date | None = None,
    until: date | None = None,
) -> Any:
    """Every claim result the principal may see (the API's claims list)."""
    qs = ClaimResult.objects.for_user(user).select_related("location", "fill", "fill__plan")
    if status:
        qs = qs.filter(status=status)
    if location_ncpdp:
        qs = qs.filter(location__ncpdp_id=location_ncpdp)
    if since:
        qs = qs.filter(date_of_service__gte=since)
    if until:
        qs = qs.filter(date_of_service__lte=until)
    return qs


def reconcile_runs_for_user(user: Principal) -> Any:
    """Reconciliation runs (jobs of kind "reconcile") the principal may see, newest first.
    Runs are organization-wide: users limited to some stores see none."""
    return (
        Job.objects.for_user(user)
        .filter(kind=JOB_KIND)
        .select_related("location")
        .order_by("-created_at", "-pk")
    )


# --- one claim's story ---------------------------------------------------------------------


@dataclass
class ClaimStory:
    fill: Fill
    result: ClaimResult | None
    kind: str  # the exception kind, or the result's status when it is none
    at_stake_cents: int
    payments: list[ClaimPayment]
    plb: list[PlbAllocation]
    fee_lines: list[FeeLine]
    invoice_cost: AcquisitionCost | None
    nadac: NadacPrice | None
    nadac_cents: int | None
    case: ExceptionCase | None
    notes: list[CaseNote] = field(default_factory=list)

    @property
    def reimbursement_cents(self) -> int:
        """Plan paid at adjudication plus patient pay."""
        return self.fill.total_paid_cents + self.fill.patient_pay_cents

    @property
    def case_status(self) -> str:
        return self.case.status if self.case else "open"


def claim_payments_for_fill(fill: Fill) -> list[ClaimPayment]:
    """The 835 claim payments the latest reconciliation run matched to this claim."""
    # exactly what the latest run matched to the claim (a payment it left ambiguous or
    # unmatched is on no claim's story)
    matched = PaymentMatch.objects.filter(fill_id=fill.pk).values("payment_id")
    candidates = (
        ClaimPayment.objects.filter(
            pk__in=matched,
            organization_id=fill.location.organization_id,
            remittance__superseded_by__isnull=True,
        )
        .select_related("remittance")
        .prefetch_related(
            Prefetch(
                "services",
                queryset=ServicePayment.objects.order_by("position").prefetch_related(
                    Prefetch("adjustments", queryset=Adjustment.objects.order_by("segment"))
                ),
            ),
            Prefetch(
                "adjustments",
                queryset=Adjustment.objects.filter(service__isnull=True).order_by("segment"),
                to_attr="claim_adjustments",
            ),
        )
        .order_by("remittance__payment_date", "remittance_id", "position")
    )
    return list(candidates)


def _nadac_on(organization_id: int, ndc: str, day: date) -> NadacPrice | None:
    return (
        NadacPrice.objects.filter(organization_id=organization_id, ndc=ndc, effective_date__lte=day)
        .order_by("-effective_date")
        .first()
    )


def claim_story_for_user(*, user: Principal, fill_id: int) -> ClaimStory:
    """The claim, its result, every 835 payment answering it with lines and CAS
    adjustments, PLB amounts tied or allocated to it, fee-statement lines, its costs (PMS,
    invoice, NADAC) and margin, and the case with its notes. 404 for a claim outside the
    principal's stores."""
    fill: Fill = object_get_for_user(
        Fill.objects.select_related("location", "patient", "drug", "plan", "prescription"),
        user=user,
        pk=fill_id,
    )
    result = (
        exceptions_for_user(user).filter(fill_id=fill.pk).first()
        or ClaimResult.objects.for_user(user).filter(fill_id=fill.pk).first()
    )
    kind = getattr(result, "kind", None) or (result.status if result else "")
    at_stake = getattr(result, "at_stake_cents", 0) or 0
    plb = list(
        PlbAllocation.objects.filter(fill_id=fill.pk)
        .select_related("adjustment", "adjustment__remittance")
        .order_by("adjustment__remittance__payment_date", "pk")
    )
    fee_lines = list(
        FeeLine.objects.for_user(user)
        .filter(
            location_id=fill.location_id,
            rx_number=fill.rx_number,
            fill_number=fill.fill_number,
            date_of_service=fill.date_of_service,
        )
        .order_by("statement_date", "fee_type")
    )
    invoice = (
        AcquisitionCost.objects.for_user(user)
        .filter(location_id=fill.location_id, ndc=fill.drug.ndc)
        .filter(invoice_date__lte=fill.date_of_service)
        .order_by("-invoice_date", "-pk")
        .first()
    )
    nadac = _nadac_on(fill.location.organization_id, fill.drug.ndc, fill.date_of_service)
    nadac_cents = (
        int((nadac.per_unit * fill.quantity * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
        if nadac
        else None
    )
    case = ExceptionCase.objects.filter(fill_id=fill.pk).select_related("opened_by").first()
    notes = list(case.notes.select_related("author").order_by("at", "pk")) if case else []
    return ClaimStory(
        fill=fill,
        result=result,
        kind=kind,
        at_stake_cents=int(at_stake),
        payments=claim_payments_for_fill(fill),
        plb=plb,
        fee_lines=fee_lines,
        invoice_cost=invoice,
        nadac=nadac,
        nadac_cents=nadac_cents,
        case=case,
        notes=notes,
    )


# --- MAC appeals -----------------------------------------------------------------------------


def mac_appeals_for_user(
    user: Principal, *, location_id: int | None = None, payer: str = ""
) -> Any:
    """Below-cost generic claims to appeal against the payer's MAC, biggest shortfall first.
    Each row carries `paid_cents` (plan paid + patient pay: what the claim was reimbursed),
    `shortfall_cents` (acquisition - paid), and the NADAC effective on the date of service:
    `nadac_per_unit` and `nadac_cents` (per unit x quantity, to the cent; None when CMS
    publishes no price for the NDC)."""
    nadac = NadacPrice.objects.filter(
        organization_id=OuterRef("organization_id"),
        ndc=OuterRef("fill__drug__ndc"),
        effective_date__lte=OuterRef("date_of_service"),
    ).order_by("-effective_date")
    per_unit = Subquery(
        nadac.values("per_unit")[:1], output_field=DecimalField(max_digits=12, decimal_places=5)
    )
    qs = (
        ClaimResult.objects.for_user(user)
        .filter(below_cost=True, fill__drug__is_brand=False)
        .exclude(status__in=("reversed", "reversal", "cash"))
    )
    if location_id:
        qs = qs.filter(location_id=location_id)
    if payer:
        qs = qs.filter(Q(fill__plan__name__icontains=payer) | Q(fill__plan__bin=payer))
    paid = _cents(F("expected_cents") + F("fill__patient_pay_cents"))
    return (
        qs.annotate(
            paid_cents=paid,
            shortfall_cents=Greatest(
                _cents(F("acquisition_cents") - F("expected_cents") - F("fill__patient_pay_cents")),
                Value(0),
                output_field=_CENTS,
            ),
            nadac_per_unit=per_unit,
            nadac_cents=Cast(
                Round(per_unit * F("fill__quantity") * Value(Decimal(100))), output_field=_CENTS
            ),
            case_status=_case_status(),
        )
        .select_related("location", "fill", "fill__drug", "fill__plan", "fill__patient")
        .order_by("-shortfall_cents", "-date_of_service", "-pk")
    )
