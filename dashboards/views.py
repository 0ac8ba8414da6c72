"""The owner dashboards' pages. Every page takes the controls' query parameters
(`dashboards.forms`): a URL is a view that can be bookmarked and shared; htmx swaps the
page body when a control changes. Tables export with `?export=csv|xlsx`."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone

from claims.models import Plan
from clinical.encounter_selectors import clinical_revenue_by_location_for_user
from dashboards import drill, figures
from dashboards.exports import Cents, table_response
from dashboards.forms import DashboardControls
from dashboards.overview import MEASURE_LABELS, overview_for_user
from dashboards.periods import Period, period_for
from dashboards.selectors import (
    CONTRACT_TYPE_LABELS,
    DRUG_CLASS_LABELS,
    MarginRow,
    below_cost_by_drug_for_user,
    margin_for_user,
    margin_locations_for_user,
    margin_trend_for_user,
    payer_seen_by_user,
    per_script,
    trend_grain,
)
from dashboards.staff import staff_metrics_for_user
from rxrevops.access import location_get_for_user
from rxrevops.models import AuditEvent
from rxrevops.services.audit import audit_record
from rxrevops.web import nav_required

DIMENSIONS = {
    "location": "Stores",
    "payer": "Payers",
    "drug_class": "Drug classes",
    "contract_type": "Fee-for-service vs value-based",
    "month": "Months",
}
BENCHMARK_METRICS = {
    "net_margin_per_script": ("Net margin per script", "cents", "up"),
    "generic_dispensing_rate": ("Generic dispensing rate", "rate", "up"),
    "below_cost_rate": ("Below-cost rate", "rate", "down"),
    "fees_per_script": ("Fees + DIR per script", "cents", "down"),
}
_GUARD = nav_required("dashboards:index")


@dataclass(frozen=True)
class Scope:
    """The controls as chosen: the period, a store, a plan, and their query string."""

    controls: DashboardControls
    period: Period
    location: int | None
    plan: int | None

    def query(self, **extra: Any) -> str:
        """The query string that reproduces this view (dates as chosen), plus `extra`."""
        params: dict[str, Any] = {"period": self.period.preset}
        if self.period.preset == "custom":
            params.update(since=self.period.start.isoformat(), until=self.period.end.isoformat())
        if self.location:
            params["location"] = self.location
        if self.plan:
            params["plan"] = self.plan
        params.update({k: v for k, v in extra.items() if v is not None})
        return urlencode(params)

    def claims_url(self, figure: str, **dims: Any) -> str:
        """The claims behind a figure of this view, dates pinned (a shared link shows the
        same claims tomorrow)."""
        params: dict[str, Any] = {
            "figure": figure,
            "since": self.period.start.isoformat(),
            "until": self.period.end.isoformat(),
        }
        if self.location:
            params["location"] = self.location
        if self.plan:
            params["plan"] = self.plan
        params.update({k: v for k, v in dims.items() if v is not None})
        return reverse("dashboards:claims") + "?" + urlencode(params)


def _scope(request: HttpRequest, **fixed: int) -> Scope:
    data = request.GET.copy()
    for key, value in fixed.items():
        data[key] = str(value)
    controls = DashboardControls(data, user=request.user, today=timezone.localdate())
    return Scope(
        controls=controls,
        period=controls.period_value(),
        location=fixed.get("location", controls.location_id()),
        plan=fixed.get("plan", controls.plan_id()),
    )


# the figure JSON sits inside <script type="application/json"> unescaped (|safe): a name
# holding "</script>" must not end that element, so <, > and & go as \u escapes (what
# Django's json_script does; JSON.parse reads them back)
_IN_SCRIPT_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


def _figure_json(figure: dict[str, Any]) -> str:
    return json.dumps(figure, separators=(",", ":")).translate(_IN_SCRIPT_ESCAPES)


def _render(request: HttpRequest, template: str, scope: Scope, context: dict[str, Any]) -> Any:
    context.update(scope=scope, controls=scope.controls, period=scope.period, query=scope.query())
    return render(request, template, context)


# --- overview, store and payer pages -----------------------------------------------------------


@dataclass(frozen=True)
class StoreRow:
    margin: MarginRow | None  # None: no reconciled script in the period
    before: MarginRow | None
    href: str
    clinical_billed_cents: int
    clinical_paid_cents: int
    location_id: int
    label: str


@_GUARD
def index(request: HttpRequest) -> HttpResponse:
    return _overview(request, _scope(request), title="Chain overview")


@_GUARD
def location_page(request: HttpRequest, location_id: int) -> HttpResponse:
    location = location_get_for_user(user=request.user, location_id=location_id)
    scope = _scope(request, location=location.pk)
    return _overview(request, scope, title=location.name, store=location)


@_GUARD
def payer_page(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = get_object_or_404(Plan, pk=plan_id)
    scope = _scope(request, plan=plan.pk)
    if not payer_seen_by_user(request.user, plan_id=plan.pk):
        raise Http404("Not found")  # a plan none of the principal's claims name
    data = _overview_data(request, scope)
    title = plan.name or f"BIN {plan.bin} PCN {plan.pcn} group {plan.group}"
    return _render(request, "dashboards/index.html", scope, {**data, "title": title, "payer": plan})


def _overview_data(request: HttpRequest, scope: Scope) -> dict[str, Any]:
    user = request.user
    period = scope.period
    ov = overview_for_user(user, period=period, location=scope.location, payer=scope.plan)
    by_payer = margin_for_user(
        user, group_by="payer", start=period.start, end=period.end,
        location=scope.location, payer=scope.plan,
    )  # fmt: skip
    points = margin_trend_for_user(
        user, start=period.start, end=period.end, grain=trend_grain(period.days),
        location=scope.location, payer=scope.plan,
    )  # fmt: skip
    losses = below_cost_by_drug_for_user(
        user, start=period.start, end=period.end, location=scope.location
    )

    def store_href(location_id: int) -> str:
        return _group_link(scope, "location", str(location_id))

    def payer_href(key: str | None) -> str:
        return _group_link(scope, "payer", key)

    def drug_href(drug_id: int) -> str:
        return scope.claims_url("below_cost", drug=drug_id)

    charts = {
        "trend": _figure_json(figures.trend_figure(points, href=store_href)),
        "waterfall": _figure_json(figures.waterfall_figure(ov.totals)),
        "payers": _figure_json(figures.payer_figure(by_payer.rows, href=payer_href)),
        "below_cost": _figure_json(figures.below_cost_figure(losses, href=drug_href)),
    }
    earlier = {r.key: r for r in ov.earlier.rows}
    current = {r.key: r for r in ov.current.rows}
    clinical = clinical_revenue_by_location_for_user(user, since=period.start, until=period.end)
    # every store in view, with or without scripts in the period
    stores = [
        StoreRow(
            margin=current.get(str(loc.pk)),
            before=earlier.get(str(loc.pk)),
            href=store_href(loc.pk),
            clinical_billed_cents=clinical.get(loc.pk, (0, 0))[0],
            clinical_paid_cents=clinical.get(loc.pk, (0, 0))[1],
            location_id=loc.pk,
            label=loc.name,
        )
        for loc in margin_locations_for_user(user, location=scope.location)
    ]
    return {
        "overview": ov,
        "tiles": [
            (t, scope.claims_url(t.figure) if t.figure else _tile_href(t.href)) for t in ov.tiles
        ],
        "unreconciled": [
            (bucket, cents, scope.claims_url("unreconciled", age=bucket))
            for bucket, cents in ov.unreconciled
        ],
        "stores": stores,
        "payers": [(r, payer_href(r.key)) for r in by_payer.rows],
        "losses": [(d, drug_href(d.drug_id)) for d in losses],
        "charts": charts,
        "waterfall": figures.waterfall_parts(ov.totals),
        "measures": [(MEASURE_LABELS.get(m.measure, m.measure), m) for m in ov.adherence.measures],
        "net_margin_formula": ov.tiles[0].formula,
    }


def _tile_href(name: str) -> str:
    return {"clinical": reverse("clinical:revenue"), "adherence": reverse("adherence:index")}.get(
        name, ""
    )


def _overview(request: HttpRequest, scope: Scope, *, title: str, store: Any = None) -> HttpResponse:
    data = _overview_data(request, scope)
    return _render(
        request, "dashboards/index.html", scope, {**data, "title": title, "store": store}
    )


# --- breakdowns ---------------------------------------------------------------------------------


_ROW_HEADER = (
    "scripts", "generic scripts", "revenue", "acquisition cost", "fees (statements)",
    "fees (estimated)", "DIR withheld", "net margin", "net margin per script",
    "below-cost scripts", "below cost $", "remitted", "unreconciled",
)  # fmt: skip


def _row_cells(r: MarginRow) -> list[Any]:
    return [
        r.claims,
        r.generic_claims,
        Cents(r.revenue_cents),
        Cents(r.acquisition_cents),
        Cents(r.fees_actual_cents),
        Cents(r.fees_estimated_cents),
        Cents(r.dir_cents),
        Cents(r.net_margin_cents),
        None if r.net_margin_per_script_cents is None else Cents(r.net_margin_per_script_cents),
        r.below_cost_claims,
        Cents(r.below_cost_cents),
        Cents(r.remitted_cents),
        Cents(r.unreconciled_cents),
    ]


def _group_link(scope: Scope, dimension: str, key: str | None) -> str:
    if dimension == "location" and key:
        return reverse("dashboards:location", args=[int(key)]) + "?" + scope.query()
    if dimension == "payer":
        if key is None:
            return scope.claims_url("net_margin", cash=1)
        return reverse("dashboards:payer", args=[int(key)]) + "?" + scope.query()
    if dimension == "drug_class":
        return scope.claims_url("net_margin", drug_class=key or "other")
    if dimension == "contract_type":
        return scope.claims_url("net_margin", contract_type=key or "none")
    return ""


@_GUARD
def breakdown(request: HttpRequest, dimension: str) -> HttpResponse:
    if dimension not in DIMENSIONS:
        raise Http404("Not found")
    scope = _scope(request)
    period = scope.period
    report = margin_for_user(
        request.user, group_by=dimension, start=period.start, end=period.end,
        location=scope.location, payer=scope.plan,
    )  # fmt: skip
    fmt = request.GET.get("export")
    if fmt in ("csv", "xlsx"):
        return table_response(
            name=f"margin-by-{dimension}-{period.start}-{period.end}",
            header=[dimension.replace("_", " "), *_ROW_HEADER],
            rows=[[r.label, *_row_cells(r)] for r in [*report.rows, report.totals]],
            fmt=fmt,
        )
    rows = [(r, _group_link(scope, dimension, r.key)) for r in report.rows]
    context: dict[str, Any] = {
        "title": f"Margin by {DIMENSIONS[dimension].lower()}",
        "dimension": dimension,
        "dimension_label": DIMENSIONS[dimension],
        "report": report,
        "rows": rows,
        "chart": _figure_json(
            figures.breakdown_figure(
                report.rows, href=lambda key: _group_link(scope, dimension, key)
            )
        ),
    }
    if dimension == "drug_class":
        losses = below_cost_by_drug_for_user(
            request.user, start=period.start, end=period.end, location=scope.location, limit=25
        )
        context["losses"] = [(d, scope.claims_url("below_cost", drug=d.drug_id)) for d in losses]
    return _render(request, "dashboards/breakdown.html", scope, context)


# --- network benchmark --------------------------------------------------------------------------


@dataclass(frozen=True)
class Ranked:
    rank: int
    row: MarginRow
    value: Any
    href: str
    fees_per_script_cents: int | None


def _metric(row: MarginRow, metric: str) -> Any:
    if metric == "fees_per_script":
        return per_script(row.fees_cents + row.dir_cents, row.claims)
    if metric == "net_margin_per_script":
        return row.net_margin_per_script_cents
    return getattr(row, metric)


def rank_rows(
    rows: Sequence[MarginRow], metric: str, better: str
) -> list[tuple[int, MarginRow, Any]]:
    """Rows ranked best first on `metric` (ties share a rank); rows without a value last."""
    valued = [(r, _metric(r, metric)) for r in rows]
    with_value = sorted(
        (p for p in valued if p[1] is not None),
        key=lambda p: (-p[1] if better == "up" else p[1], p[0].label),
    )
    ranked: list[tuple[int, MarginRow, Any]] = []
    for i, (row, value) in enumerate(with_value):
        rank = ranked[-1][0] if ranked and ranked[-1][2] == value else i + 1
        ranked.append((rank, row, value))
    ranked.extend((0, r, None) for r, v in valued if v is None)
    return ranked


def median(values: Sequence[Any]) -> Any:
    """The median; for cents, rounded half away from zero to the cent; rates to 4 places."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    mid = statistics.median(Decimal(v) for v in present)
    if all(isinstance(v, int) for v in present):
        return int(mid.quantize(Decimal(1), rounding="ROUND_HALF_UP"))
    return mid.quantize(Decimal("0.0001"), rounding="ROUND_HALF_UP")


@_GUARD
def benchmark(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    metric = request.GET.get("metric", "net_margin_per_script")
    if metric not in BENCHMARK_METRICS:
        metric = "net_margin_per_script"
    label, kind, better = BENCHMARK_METRICS[metric]
    period = scope.period
    report = margin_for_user(
        request.user, group_by="location", start=period.start, end=period.end, payer=scope.plan
    )
    ranked = rank_rows(report.rows, metric, better)
    chain_median = median([v for _, _, v in ranked])
    fmt = request.GET.get("export")
    if fmt in ("csv", "xlsx"):
        return table_response(
            name=f"benchmark-{metric}-{period.start}-{period.end}",
            header=[
                "rank",
                "store",
                "scripts",
                "net margin per script",
                "generic dispensing rate",
                "below-cost rate",
                "fees + DIR per script",
            ],
            rows=[
                [
                    rank or "",
                    r.label,
                    r.claims,
                    _cents_or_none(r.net_margin_per_script_cents),
                    r.generic_dispensing_rate,
                    r.below_cost_rate,
                    _cents_or_none(_metric(r, "fees_per_script")),
                ]
                for rank, r, _ in ranked
            ],
            fmt=fmt,
        )
    organizations = {s.organization_id for s in _stores_of(request, report)}
    members: list[tuple[int, MarginRow, Any]] = []
    if len(organizations) > 1:  # a network: its member pharmacies side by side too
        by_member = margin_for_user(
            request.user, group_by="organization", start=period.start, end=period.end,
            payer=scope.plan,
        )  # fmt: skip
        members = rank_rows(by_member.rows, metric, better)
    rows = [
        Ranked(
            rank=rank,
            row=r,
            value=value,
            href=reverse("dashboards:location", args=[int(r.key or 0)]) + "?" + scope.query(),
            fees_per_script_cents=_metric(r, "fees_per_script"),
        )
        for rank, r, value in ranked
    ]
    return _render(
        request,
        "dashboards/benchmark.html",
        scope,
        {
            "title": "Network benchmark",
            "metric": metric,
            "metrics": BENCHMARK_METRICS,
            "metric_label": label,
            "metric_kind": kind,
            "better": better,
            "ranked": rows,
            "median": chain_median,
            "network": len(organizations) > 1,
            "members": members,
            "members_median": median([v for _, _, v in members]),
        },
    )


def _stores_of(request: HttpRequest, report: Any) -> list[Any]:
    return list(margin_locations_for_user(request.user))


def _cents_or_none(value: int | None) -> Cents | None:
    return None if value is None else Cents(value)


# --- staff -------------------------------------------------------------------------------------


@_GUARD
def staff(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    period = scope.period
    report = staff_metrics_for_user(
        request.user, start=period.start, end=period.end, location=scope.location
    )
    fmt = request.GET.get("export")
    if fmt in ("csv", "xlsx"):
        return table_response(
            name=f"staff-{period.start}-{period.end}",
            header=[
                "store",
                "staff member",
                "med-sync enrollments",
                "CMRs completed",
                "immunizations given",
                "exceptions resolved",
                "recovered",
            ],
            rows=[
                [
                    r.location,
                    r.name,
                    r.sync_enrollments,
                    r.cmrs,
                    r.immunizations,
                    r.resolved,
                    Cents(r.recovered_cents),
                ]
                for r in [*report.rows, *report.per_location]
            ],
            fmt=fmt,
        )
    return _render(
        request, "dashboards/staff.html", scope, {"title": "Staff metrics", "report": report}
    )


# --- the claims behind a figure ----------------------------------------------------------------


_CLAIM_HEADER = (
    "date of service", "store", "Rx", "fill", "drug", "NDC", "payer", "status", "revenue",
    "acquisition", "fees + DIR", "net margin", "below cost $", "unreconciled", "age",
)  # fmt: skip


def _claim_cells(r: Any) -> list[Any]:
    plan = r.fill.plan
    return [
        r.date_of_service.isoformat(),
        r.location.name,
        r.fill.rx_number,
        r.fill.fill_number,
        r.fill.drug.name,
        r.fill.drug.ndc,
        plan.name if plan else "Cash",
        r.status,
        Cents(r.revenue),
        Cents(r.acquisition_cents),
        Cents(r.fees),
        Cents(r.net_margin),
        Cents(r.shortfall) if r.below_cost else None,
        Cents(r.owed) if r.age_bucket else None,
        r.age_bucket,
    ]


def _figure_filters(request: HttpRequest, scope: Scope) -> drill.FigureFilters:
    get = request.GET

    def number(name: str) -> int | None:
        value = get.get(name, "")
        return int(value) if value.isdigit() else None

    drug_class = get.get("drug_class")
    contract = get.get("contract_type")
    brand = get.get("brand")
    figure = get.get("figure", "net_margin")
    return drill.FigureFilters(
        start=scope.period.start,
        end=scope.period.end,
        figure=figure if figure in drill.FIGURES else "net_margin",
        # strict here (a shared link to a store you do not see is a 404, not another list)
        location=number("location") if get.get("location") else None,
        plan=number("plan") if get.get("plan") else None,
        cash=get.get("cash") == "1",
        drug_class=None if drug_class is None else ("" if drug_class == "other" else drug_class),
        brand=None if brand not in ("0", "1") else brand == "1",
        contract_type=None if contract is None else ("" if contract == "none" else contract),
        drug=number("drug"),
        age=get.get("age", ""),
    )


@_GUARD
def claims(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    f = _figure_filters(request, scope)
    results = drill.figure_claims_for_user(request.user, f)
    fmt = request.GET.get("export")
    if fmt in ("csv", "xlsx"):
        audit_record(
            actor=request.user,
            action=AuditEvent.Action.EXPORT,
            summary=f"Dashboard claims export ({fmt}) {request.GET.urlencode()}"[:300],
            request=request,
        )
        return table_response(
            name=f"claims-{f.figure}-{f.start}-{f.end}",
            header=_CLAIM_HEADER,
            rows=(
                _claim_cells(r)
                for r in drill.with_amounts(results)[:200_000].iterator(chunk_size=2000)
            ),
            fmt=fmt,
        )
    # (the count leaves the per-claim amounts out: Django strips annotations it does not use)
    page = Paginator(drill.with_amounts(results), 50).get_page(request.GET.get("page"))
    if page.object_list:
        audit_record(
            actor=request.user,
            action=AuditEvent.Action.VIEW,
            summary=f"Dashboard claims ({f.figure}) page {page.number}",
            request=request,
        )
    query = request.GET.copy()
    query.pop("page", None)
    figure = drill.FIGURES[f.figure]
    narrowing = _narrowing(f)
    return _render(
        request,
        "dashboards/claims.html",
        scope,
        {
            "title": f"Claims behind: {figure.label}",
            "figure": figure,
            "filters": f,
            "narrowing": narrowing,
            "totals": drill.figure_totals(results, f.figure),
            "page": page,
            "page_query": query.urlencode(),
            "claims_list_query": urlencode(
                {
                    k: v
                    for k, v in {
                        "location": f.location or "",
                        "since": f.start.isoformat(),
                        "until": f.end.isoformat(),
                        "plan": f.plan or "",
                    }.items()
                    if v
                }
            ),
        },
    )


def _narrowing(f: drill.FigureFilters) -> list[str]:
    out = []
    if f.cash:
        out.append("cash claims (no plan)")
    if f.drug_class is not None:
        out.append(f"drug class: {DRUG_CLASS_LABELS.get(f.drug_class, f.drug_class)}")
    if f.brand is not None:
        out.append("brand" if f.brand else "generic")
    if f.contract_type is not None:
        out.append(f"contract: {CONTRACT_TYPE_LABELS.get(f.contract_type, f.contract_type)}")
    if f.drug is not None:
        out.append(f"drug id {f.drug}")
    if f.age:
        out.append(f"age {f.age} days")
    return out


# --- the monthly owner report -------------------------------------------------------------------


@_GUARD
def report(request: HttpRequest) -> HttpResponse:
    """A printable owner report of one month (`?month=YYYY-MM`, default last month)."""
    today = timezone.localdate()
    month = request.GET.get("month", "")
    try:
        year, mon = (int(p) for p in month.split("-"))
        first = date(year, mon, 1)
    except ValueError:
        first = period_for("last_month", today=today).start
    last = period_for("last_month", today=_next_month(first)).end
    scope = Scope(
        controls=DashboardControls(
            {"period": "custom", "since": first, "until": last},
            user=request.user,
            today=today,
        ),
        period=Period("custom", first, last),
        location=None,
        plan=None,
    )
    data = _overview_data(request, scope)
    by_class = margin_for_user(request.user, group_by="drug_class", start=first, end=last)
    by_contract = margin_for_user(request.user, group_by="contract_type", start=first, end=last)
    return _render(
        request,
        "dashboards/report.html",
        scope,
        {
            **data,
            "title": f"Owner report — {first:%B %Y}",
            "month": first,
            "prev_month": period_for("last_month", today=first).start,
            "next_month": _next_month(first),
            "by_class": by_class,
            "by_contract": by_contract,
        },
    )


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)
