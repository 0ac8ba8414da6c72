"""Plotly figures of the owner dashboards (pure): typed rows in, figure dicts out, handed to
the plotly.js the app serves (never a CDN).

Money stays integer cents until here; a chart's axis is in dollars, so the cents become
JSON numbers (cents / 100) for drawing only. Every figure a chart shows is also in a table on
the same page, exact. A point's `customdata` is the link to the claims or page behind it:
clicking it drills down.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from dashboards.selectors import DrugLoss, MarginRow, TrendPoint

PALETTE = (
    "#1f6f8b", "#e07a1f", "#3a9d5d", "#b8453a", "#7b5ea7", "#8c6d46", "#d16ba5",
    "#5f6b73", "#a3a322", "#2bb3c0",
)  # fmt: skip


def _dollars(cents: int | None) -> float | None:
    return None if cents is None else cents / 100  # drawing only


def _layout(**extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "margin": {"l": 60, "r": 20, "t": 10, "b": 40},
        "height": 300,
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        "hovermode": "closest",
    }
    layout.update(extra)
    return layout


def trend_figure(points: Sequence[TrendPoint], *, href: Callable[[int], str]) -> dict[str, Any]:
    """Net margin per store over time: one line per store (at most the 10 with the most
    scripts; the rest summed as "Other stores")."""
    scripts: dict[int, int] = {}
    for p in points:
        scripts[p.location_id] = scripts.get(p.location_id, 0) + p.claims
    top = sorted(scripts, key=lambda k: (-scripts[k], k))[: len(PALETTE) - 1]
    series: dict[Any, dict[str, Any]] = {}
    for p in points:
        key = p.location_id if p.location_id in top else "other"
        s = series.get(key)
        if s is None:  # the link once per line, not per point
            s = series[key] = {
                "name": p.location if key != "other" else "Other stores",
                "x": {},
                "link": href(p.location_id) if key != "other" else "",
            }
        s["x"][p.bucket] = s["x"].get(p.bucket, 0) + p.net_margin_cents
    data = []
    for i, (_key, s) in enumerate(sorted(series.items(), key=lambda kv: str(kv[1]["name"]))):
        days = sorted(s["x"])
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": s["name"],
                "x": [d.isoformat() for d in days],
                "y": [_dollars(s["x"][d]) for d in days],
                "customdata": [s["link"]] * len(days),
                "line": {"color": PALETTE[i % len(PALETTE)], "width": 2},
                "hovertemplate": "%{x}: $%{y:,.2f}<extra>" + str(s["name"]) + "</extra>",
            }
        )
    return {
        "data": data,
        "layout": _layout(yaxis={"title": "net margin ($)", "tickprefix": "$"}),
    }


def waterfall_parts(total: MarginRow) -> list[tuple[str, int]]:
    """Revenue down to net margin, in cents; the last step is what is left over, so the
    steps add up to the net margin exactly: payments short of the promise, PLB fees and
    overdue unpaid claims (less any over-payment)."""
    fees = total.fees_cents
    other = (
        total.revenue_cents
        - total.acquisition_cents
        - fees
        - total.dir_cents
        - total.net_margin_cents
    )
    return [
        ("Revenue", total.revenue_cents),
        ("Acquisition cost", -total.acquisition_cents),
        ("Fees (statements + estimates)", -fees),
        ("DIR withheld on 835s", -total.dir_cents),
        ("Short-paid, unpaid, PLB", -other),
    ]


def waterfall_figure(total: MarginRow) -> dict[str, Any]:
    parts = waterfall_parts(total)
    labels = ["Revenue", "Acquisition", "Fees", "DIR", "Short-pay, PLB", "Net margin"]
    values = [_dollars(cents) for _, cents in parts] + [_dollars(total.net_margin_cents)]
    return {
        "data": [
            {
                "type": "waterfall",
                "x": labels,
                "y": values,
                "measure": ["absolute"] + ["relative"] * (len(parts) - 1) + ["total"],
                "connector": {"line": {"color": "#9aa5ad"}},
                "increasing": {"marker": {"color": "#3a9d5d"}},
                "decreasing": {"marker": {"color": "#b8453a"}},
                "totals": {"marker": {"color": "#1f6f8b"}},
                "hovertemplate": "%{x}: $%{y:,.2f}<extra></extra>",
            }
        ],
        "layout": _layout(yaxis={"tickprefix": "$"}, showlegend=False),
    }


def payer_figure(rows: Sequence[MarginRow], *, href: Callable[[str | None], str]) -> dict[str, Any]:
    """Payer mix (scripts, bars) and net margin per script (dots, right axis), the 12 payers
    with the most scripts."""
    top = sorted(rows, key=lambda r: (-r.claims, r.label))[:12]
    labels = [r.label for r in top]
    links = [href(r.key) for r in top]
    return {
        "data": [
            {
                "type": "bar",
                "name": "scripts",
                "x": labels,
                "y": [r.claims for r in top],
                "customdata": links,
                "marker": {"color": "#9ec5d6"},
                "hovertemplate": "%{x}: %{y:,} scripts<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "markers",
                "name": "net margin per script",
                "x": labels,
                "y": [_dollars(r.net_margin_per_script_cents) for r in top],
                "yaxis": "y2",
                "customdata": links,
                "marker": {"color": "#1f6f8b", "size": 10},
                "hovertemplate": "%{x}: $%{y:,.2f} per script<extra></extra>",
            },
        ],
        "layout": _layout(
            yaxis={"title": "scripts"},
            yaxis2={
                "title": "net margin / script",
                "overlaying": "y",
                "side": "right",
                "tickprefix": "$",
                "zeroline": True,
            },
            margin={"l": 60, "r": 60, "t": 10, "b": 90},
            xaxis={"tickangle": -30, "automargin": True},
        ),
    }


def below_cost_figure(losses: Sequence[DrugLoss], *, href: Callable[[int], str]) -> dict[str, Any]:
    """The drugs losing the most on below-cost scripts, largest loss on top."""
    ordered = list(reversed(losses))
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": [f"{d.name[:32]} ({d.ndc})" for d in ordered],
                "x": [_dollars(d.shortfall_cents) for d in ordered],
                "text": [f"{d.claims:,} scripts" for d in ordered],
                "customdata": [href(d.drug_id) for d in ordered],
                "marker": {"color": "#b8453a"},
                "hovertemplate": "%{y}: $%{x:,.2f} below cost, %{text}<extra></extra>",
            }
        ],
        "layout": _layout(
            xaxis={"tickprefix": "$", "title": "below cost ($)"},
            yaxis={"automargin": True},
            margin={"l": 10, "r": 20, "t": 10, "b": 40},
            showlegend=False,
        ),
    }


def breakdown_figure(
    rows: Sequence[MarginRow], *, href: Callable[[str | None], str]
) -> dict[str, Any]:
    """Net margin per script of each group (a breakdown page's chart)."""
    shown = rows[:40]
    return {
        "data": [
            {
                "type": "bar",
                "x": [r.label for r in shown],
                "y": [_dollars(r.net_margin_per_script_cents) for r in shown],
                "customdata": [href(r.key) for r in shown],
                "marker": {"color": "#1f6f8b"},
                "hovertemplate": "%{x}: $%{y:,.2f} per script<extra></extra>",
            }
        ],
        "layout": _layout(
            yaxis={"title": "net margin / script", "tickprefix": "$"},
            xaxis={"tickangle": -30, "automargin": True},
            showlegend=False,
        ),
    }
