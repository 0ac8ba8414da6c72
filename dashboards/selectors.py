"""Read side of the owner dashboards.

Margin figures come only from the rollups (`MarginDaily`), through `.for_user(user)`: a user
of some stores sees those stores' rows, an owner of the organization every store's. Money is
integer cents; per-script figures are cents rounded half away from zero; rates are Decimal
fractions to 4 places (half up), None when there is nothing to divide by.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import BigIntegerField, Count, F, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth, TruncWeek
from django.http import Http404

from claims.models import Drug, Plan
from dashboards.models import BelowCostDaily, MarginDaily, MarginStoreDaily
from dashboards.rollup_cache import rollup_rows
from rxrevops.access import Principal, location_ids_for_user, location_list_for_user
from rxrevops.models import Location, Organization
from rxrevops.querysets import ReconciliationQuerySet

_CENTS = BigIntegerField()
GROUP_BYS = ("location", "payer", "drug_class", "contract_type", "day", "month")
CONTRACT_TYPE_LABELS = {"ffs": "Fee-for-service", "value_based": "Value-based", "": "No contract"}
# the PQA value-set classes (adherence/valuesets); every other drug is "Other"
DRUG_CLASS_LABELS = {
    "DR": "Diabetes (non-insulin)",
    "INSULIN": "Insulin",
    "RASA": "RAS antagonists",
    "SACVAL": "Sacubitril/valsartan",
    "STA": "Statins",
    "": "Other",
}


def location_overview_for_user(user: Principal) -> Any:
    """Each visible location with the number of patients on file."""
    return location_list_for_user(user).annotate(patient_count=Count("patients")).order_by("name")


@dataclass(frozen=True)
class MarginRow:
    """The summed figures of one group (or of all of them: the totals), with ratios."""

    key: str | None  # the group: location or plan id, class, contract type, ISO day or month
    label: str
    claims: int
    generic_claims: int
    revenue_cents: int
    plan_paid_cents: int
    acquisition_cents: int
    fees_actual_cents: int
    fees_estimated_cents: int
    dir_cents: int
    net_margin_cents: int
    below_cost_claims: int
    below_cost_cents: int
    remitted_cents: int
    unreconciled_0_30_cents: int
    unreconciled_31_60_cents: int
    unreconciled_61_90_cents: int
    unreconciled_90_plus_cents: int

    @property
    def fees_cents(self) -> int:
        """The fees net margin subtracts: stated where a statement arrived, else estimated."""
        return self.fees_actual_cents + self.fees_estimated_cents

    @property
    def unreconciled_cents(self) -> int:
        return (
            self.unreconciled_0_30_cents
            + self.unreconciled_31_60_cents
            + self.unreconciled_61_90_cents
            + self.unreconciled_90_plus_cents
        )

    @property
    def net_margin_per_script_cents(self) -> int | None:
        return per_script(self.net_margin_cents, self.claims)

    @property
    def revenue_per_script_cents(self) -> int | None:
        return per_script(self.revenue_cents, self.claims)

    @property
    def fees_per_script_cents(self) -> int | None:
        return per_script(self.fees_cents, self.claims)

    @property
    def dir_per_script_cents(self) -> int | None:
        return per_script(self.dir_cents, self.claims)

    @property
    def below_cost_rate(self) -> Decimal | None:
        return rate(self.below_cost_claims, self.claims)

    @property
    def generic_dispensing_rate(self) -> Decimal | None:
        return rate(self.generic_claims, self.claims)


FIGURES = tuple(f.name for f in fields(MarginRow) if f.name not in ("key", "label"))


def per_script(cents: int, claims: int) -> int | None:
    """cents / claims, rounded half away from zero to the cent, exactly."""
    if not claims:
        return None
    magnitude = (abs(cents) * 2 + claims) // (claims * 2)
    return magnitude if cents >= 0 else -magnitude


def rate(part: int, whole: int) -> Decimal | None:
    """part / whole to 4 places, half up, exactly."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class MarginReport:
    group_by: str
    start: date
    end: date
    rows: list[MarginRow]
    totals: MarginRow


_GROUP_FIELDS: dict[str, Any] = {
    "location": F("location_id"),
    "payer": F("plan_id"),
    "drug_class": F("drug_class"),
    "contract_type": F("contract_type"),
    "day": F("day"),
    "month": TruncMonth("day"),
    # the pages' network benchmark: a network's member pharmacies side by side
    "organization": F("organization_id"),
}
# groupings the per store, day and plan sums answer
_COARSE_GROUPS = frozenset({"location", "payer", "day", "month", "organization"})


def _margin_rows(
    user: Principal,
    *,
    start: date,
    end: date,
    location: int | None,
    payer: int | None,
    filters: dict[str, Any] | None = None,
    coarse: bool = False,
) -> Any:
    """The rollup rows of the principal's stores for the dates of service, narrowed to one
    store (404 unless the principal sees its margin) and one plan (404 if unknown). `coarse`:
    the per store, day and plan sums (`MarginStoreDaily`), for what needs no finer group."""
    model = MarginStoreDaily if coarse and not filters else MarginDaily
    qs = model.objects.for_user(user).filter(day__gte=start, day__lte=end)
    if location is not None:
        visible = location_ids_for_user(user, roles=ReconciliationQuerySet.viewer_roles)
        if location not in visible:
            raise Http404("Not found")
        qs = qs.filter(location_id=location)
    if payer is not None:
        if not Plan.objects.filter(pk=payer).exists():
            raise Http404("Not found")
        qs = qs.filter(plan_id=payer)
    return qs.filter(**(filters or {}))


def margin_for_user(
    user: Principal,
    *,
    group_by: str,
    start: date,
    end: date,
    location: int | None = None,
    payer: int | None = None,
    filters: dict[str, Any] | None = None,
) -> MarginReport:
    """Margin figures of the dates of service `start`..`end` (inclusive) the principal may
    see, per `group_by` (one of GROUP_BYS), and in total; narrowed to one store (`location`,
    404 unless the principal sees its margin) and one plan (`payer`, 404 if unknown).

    Rows come in the group's order: days and months by date, the others by label."""
    if group_by not in _GROUP_FIELDS:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BYS)}")
    qs = _margin_rows(
        user,
        start=start,
        end=end,
        location=location,
        payer=payer,
        filters=filters,
        coarse=group_by in _COARSE_GROUPS,
    )
    # (named apart from the model's fields, which annotations may not shadow)
    sums = {f"sum_{n}": Coalesce(Sum(n), Value(0), output_field=_CENTS) for n in FIGURES}
    grouped: Any = qs.values(group=_GROUP_FIELDS[group_by]).annotate(**sums).order_by("group")
    groups: list[dict[str, Any]] = rollup_rows(grouped, user=user)
    labels = _labels(group_by, [g["group"] for g in groups])
    rows = [
        MarginRow(
            key=_key(g["group"]),
            label=labels[g["group"]],
            **{n: int(g[f"sum_{n}"]) for n in FIGURES},
        )
        for g in groups
    ]
    if group_by not in ("day", "month"):
        rows.sort(key=lambda r: (r.label.lower(), r.key or ""))
    # the totals are the groups' sums (exact integers; one query fewer)
    total = MarginRow(
        key=None, label="Total", **{n: sum(getattr(r, n) for r in rows) for n in FIGURES}
    )
    return MarginReport(group_by=group_by, start=start, end=end, rows=rows, totals=total)


def _key(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _plan_label(key: Any, plan: Plan | None) -> str:
    if key is None:
        return "Cash (no plan)"
    if plan is None:
        return f"Plan {key}"
    return plan.name or f"BIN {plan.bin} PCN {plan.pcn} group {plan.group}"


def _labels(group_by: str, keys: list[Any]) -> dict[Any, str]:
    if group_by == "location":
        names = dict(Location.objects.filter(pk__in=keys).values_list("pk", "name"))
        return {k: names.get(k, str(k)) for k in keys}
    if group_by == "organization":
        orgs = dict(Organization.objects.filter(pk__in=keys).values_list("pk", "name"))
        return {k: orgs.get(k, str(k)) for k in keys}
    if group_by == "payer":
        plans = {p.pk: p for p in Plan.objects.filter(pk__in=[k for k in keys if k is not None])}
        labels = {k: _plan_label(k, plans.get(k)) for k in keys}
        # plans of one payer name apart by BIN and group
        seen: dict[str, int] = {}
        for label in labels.values():
            seen[label] = seen.get(label, 0) + 1
        for k, label in labels.items():
            plan = plans.get(k)
            if plan is not None and seen[label] > 1:
                labels[k] = f"{label} ({plan.bin}/{plan.group or plan.pcn})"
        return labels
    if group_by == "drug_class":
        return {k: DRUG_CLASS_LABELS.get(k, k) for k in keys}
    if group_by == "contract_type":
        return {k: CONTRACT_TYPE_LABELS.get(k, k) for k in keys}
    if group_by == "month":
        return {k: f"{k:%b %Y}" for k in keys}
    return {k: k.isoformat() for k in keys}


TREND_GRAINS = {"day": F("day"), "week": TruncWeek("day"), "month": TruncMonth("day")}


def trend_grain(days: int) -> str:
    """Daily points for up to ~two months, weekly up to ~seven, then monthly."""
    return "day" if days <= 62 else "week" if days <= 213 else "month"


@dataclass(frozen=True)
class TrendPoint:
    location_id: int
    location: str
    bucket: date  # the day, or the first day of the week (Monday) or month
    claims: int
    net_margin_cents: int


def margin_trend_for_user(
    user: Principal,
    *,
    start: date,
    end: date,
    grain: str,
    location: int | None = None,
    payer: int | None = None,
) -> list[TrendPoint]:
    """Net margin per store per day, week or month (`grain`, see TREND_GRAINS)."""
    qs = _margin_rows(
        user, start=start, end=end, location=location, payer=payer, filters=None, coarse=True
    )
    rows = (
        qs.values("location_id", bucket=TREND_GRAINS[grain])
        .annotate(claims=Sum("claims"), net=Sum("net_margin_cents"))
        .order_by("location_id", "bucket")
    )
    found = rollup_rows(rows, user=user)
    names = dict(
        Location.objects.filter(pk__in={r["location_id"] for r in found}).values_list("pk", "name")
    )
    return [
        TrendPoint(
            location_id=r["location_id"],
            location=names.get(r["location_id"], str(r["location_id"])),
            bucket=r["bucket"].date() if hasattr(r["bucket"], "date") else r["bucket"],
            claims=int(r["claims"]),
            net_margin_cents=int(r["net"]),
        )
        for r in found
    ]


@dataclass(frozen=True)
class DrugLoss:
    drug_id: int
    ndc: str
    name: str
    claims: int
    shortfall_cents: int


def below_cost_by_drug_for_user(
    user: Principal,
    *,
    start: date,
    end: date,
    location: int | None = None,
    drug_ids: Any = None,
    limit: int | None = 10,
) -> list[DrugLoss]:
    """The drugs with the most below-cost dollars (acquisition - plan paid - patient pay of
    dispensed below-cost scripts), largest first."""
    qs = BelowCostDaily.objects.for_user(user).filter(day__gte=start, day__lte=end)
    if location is not None:
        if location not in location_ids_for_user(user, roles=ReconciliationQuerySet.viewer_roles):
            raise Http404("Not found")
        qs = qs.filter(location_id=location)
    if drug_ids is not None:
        qs = qs.filter(drug_id__in=drug_ids)
    grouped = (
        qs.values("drug_id")
        .annotate(n=Sum("claims"), cents=Sum("shortfall_cents"))
        .order_by("-cents", "drug_id")
    )
    top = rollup_rows(grouped[:limit] if limit else grouped, user=user)
    drugs = {
        d.pk: d for d in Drug.objects.filter(pk__in=[r["drug_id"] for r in top]).only("ndc", "name")
    }
    return [
        DrugLoss(
            drug_id=r["drug_id"],
            ndc=drugs[r["drug_id"]].ndc if r["drug_id"] in drugs else "",
            name=drugs[r["drug_id"]].name if r["drug_id"] in drugs else f"Drug {r['drug_id']}",
            claims=int(r["n"]),
            shortfall_cents=int(r["cents"]),
        )
        for r in top
    ]


def payer_seen_by_user(user: Principal, *, plan_id: int) -> bool:
    """Whether any rollup row of the principal's stores names the plan."""
    seen = MarginStoreDaily.objects.for_user(user).filter(plan_id=plan_id).values_list("pk")
    return bool(rollup_rows(seen[:1], user=user))


def margin_locations_for_user(user: Principal, *, location: int | None = None) -> list[Location]:
    """The stores whose margin the principal sees (one, with `location`), by name."""
    ids = location_ids_for_user(user, roles=ReconciliationQuerySet.viewer_roles)
    if location is not None:
        ids = frozenset(ids & {location})
    return list(Location.objects.filter(pk__in=ids).order_by("name", "pk"))


def dashboard_plans_for_user(
    user: Principal, *, start: date, end: date, chosen: int | None = None
) -> list[Plan]:
    """The plans on the principal's claims of the dates (read from the rollups, not the
    claims), and the plan already chosen: the payer control's choices."""
    ids = set(
        rollup_rows(
            MarginStoreDaily.objects.for_user(user)
            .filter(day__gte=start, day__lte=end, plan__isnull=False)
            .values_list("plan_id", flat=True)
            .distinct(),
            user=user,
        )
    )
    if chosen is not None:
        ids.add(chosen)
    return list(Plan.objects.filter(pk__in=ids).order_by("name", "bin", "pk"))
