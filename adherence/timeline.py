"""The pictures on the adherence pages: a patient's fill timeline and a store's rate trend.

**Fill timeline.** For each PDC measure with target fills in the measurement year, one row
per active ingredient with a bar for each fill's supply as the PDC counts it: fills of one
ingredient shifted forward when filled early (`adherence.pdc.shifted_supply`), and the days
of the treatment period (index date to period end) split into covered runs and gaps. A day
covered by any target ingredient counts once, so `covered_days` is exactly the PDC
numerator (`adherence.pdc.covered_days`) and `days_in_period` its denominator.

**Figures.** `timeline_figure` and `rate_trend_figure` turn the rows into plotly figure
dicts (plain JSON data: the page hands them to the local plotly.js). Percentages there are
floats for drawing only; the stored figures stay integers.

Pure: dates and integers over `adherence.pdc.Fill`; no Django, no other app.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from adherence.measures import measure_year
from adherence.pdc import Fill, counted_fills, period_end_for, shifted_supply

DAY_MS = 86_400_000  # plotly draws a bar's length on a date axis in milliseconds

# colours of the one stylesheet (rxrevops/app.css): brand, a lighter brand, bad, muted
_SUPPLY = "#0f6e63"
_SHIFTED = "#6fb8ad"
_GAP = "rgba(180, 35, 24, 0.45)"
_MUTED = "#5b6b7b"


@dataclass(frozen=True, slots=True)
class SupplySpan:
    """One fill's days' supply as the PDC counts it (after shifting)."""

    drug: str  # the dispensed product's name in the value sets
    filled_on: date
    first: date  # first day of supply: the fill date, or later when filled early
    days: int

    @property
    def last(self) -> date:
        """The last day with supply (inclusive)."""
        return self.first + timedelta(days=self.days - 1)

    @property
    def shifted_days(self) -> int:
        return (self.first - self.filled_on).days


@dataclass(frozen=True, slots=True)
class DayRun:
    """Consecutive days [first, last], both inclusive."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


@dataclass(frozen=True, slots=True)
class TimelineRow:
    ingredient: str
    spans: tuple[SupplySpan, ...]


@dataclass(frozen=True, slots=True)
class MeasureTimeline:
    """One PDC measure's fills and the covered and uncovered days of its treatment period."""

    measure: str
    name: str
    index_date: date  # first target fill of the year
    period_end: date  # December 31, or the as-of date for a year to date
    rows: tuple[TimelineRow, ...]
    covered: tuple[DayRun, ...]  # inside [index_date, period_end]
    gaps: tuple[DayRun, ...]  # days of [index_date, period_end] without supply

    @property
    def days_in_period(self) -> int:
        return (self.period_end - self.index_date).days + 1

    @property
    def covered_days(self) -> int:
        return sum(run.days for run in self.covered)

    @property
    def uncovered_days(self) -> int:
        return sum(run.days for run in self.gaps)


def measure_timelines(
    fills: Iterable[Fill], *, year: int, as_of: date | None = None
) -> list[MeasureTimeline]:
    """One timeline per PDC measure with a target fill in `year` (to `as_of` when given), in
    the value sets' measure order. Raises LookupError for a year without value sets."""
    spec = measure_year(year)
    end = period_end_for(year, as_of)
    counted = counted_fills(fills, start=date(year, 1, 1), end=end)
    out = []
    for measure in spec.measures:
        if measure.kind != "pdc":
            continue
        target = [f for f in counted if spec.drug_class(f.ndc) in measure.target]
        if not target:
            continue
        by_ingredient: dict[str, list[Fill]] = {}
        for f in sorted(target, key=lambda f: f.date_of_service):
            by_ingredient.setdefault(spec.ingredient(f.ndc), []).append(f)
        rows = []
        supplied: set[date] = set()
        index_date = min(f.date_of_service for f in target)
        for ingredient in sorted(by_ingredient):
            series = by_ingredient[ingredient]  # sorted by date: shifted_supply keeps the order
            spans = tuple(
                SupplySpan(
                    drug=spec.drugs[f.ndc].name, filled_on=f.date_of_service, first=first, days=n
                )
                for f, (first, n) in zip(series, shifted_supply(series), strict=True)
            )
            rows.append(TimelineRow(ingredient=ingredient, spans=spans))
            for span in spans:
                supplied.update(_days(max(span.first, index_date), min(span.last, end)))
        covered, gaps = _runs(supplied, first=index_date, last=end)
        out.append(
            MeasureTimeline(
                measure=measure.code,
                name=measure.name,
                index_date=index_date,
                period_end=end,
                rows=tuple(rows),
                covered=covered,
                gaps=gaps,
            )
        )
    return out


def _days(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _runs(
    supplied: set[date], *, first: date, last: date
) -> tuple[tuple[DayRun, ...], tuple[DayRun, ...]]:
    """Split [first, last] into runs of supplied days and runs of unsupplied days."""
    covered: list[DayRun] = []
    gaps: list[DayRun] = []
    start, state = first, first in supplied
    for day in _days(first + timedelta(days=1), last + timedelta(days=1)):
        now = day in supplied if day <= last else not state  # past the end: close the run
        if now != state:
            (covered if state else gaps).append(DayRun(start, day - timedelta(days=1)))
            start, state = day, now
    return tuple(covered), tuple(gaps)


# -- figures -------------------------------------------------------------------------------------


def _label(d: date) -> str:
    return f"{d:%b} {d.day}"


def timeline_figure(timelines: Sequence[MeasureTimeline], *, as_of: date) -> dict[str, Any]:
    """A plotly figure: one row per measure and ingredient, bars for each fill's supply
    (lighter when shifted by an early refill), red bars over the days without supply."""
    rows: list[str] = []
    bars: dict[str, dict[str, list[Any]]] = {
        key: {"y": [], "base": [], "x": [], "text": []} for key in ("supply", "shifted", "gap")
    }

    def add(key: str, row: str, first: date, days: int, text: str) -> None:
        bars[key]["y"].append(row)
        bars[key]["base"].append(first.isoformat())
        bars[key]["x"].append(days * DAY_MS)
        bars[key]["text"].append(text)

    year_start = date(as_of.year, 1, 1)
    year_end = date(as_of.year, 12, 31)
    for t in timelines:
        labels = [f"{t.measure} · {row.ingredient}" for row in t.rows]
        rows.extend(labels)
        for label, row in zip(labels, t.rows, strict=True):
            for s in row.spans:
                text = (
                    f"{s.drug}: filled {_label(s.filled_on)}, {s.days} days, "
                    f"supply {_label(s.first)} to {_label(s.last)}"
                )
                if s.shifted_days:
                    text += f" (starts {s.shifted_days} days later: the last fill still lasted)"
                add("shifted" if s.shifted_days else "supply", label, s.first, s.days, text)
            for gap in t.gaps:
                text = f"{t.measure}: no supply {_label(gap.first)} to {_label(gap.last)}"
                add("gap", label, gap.first, gap.days, f"{text} ({gap.days} days)")
    names = {
        "supply": ("Days' supply", _SUPPLY),
        "shifted": ("Days' supply, shifted (filled early)", _SHIFTED),
        "gap": ("Days without supply", _GAP),
    }
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": names[key][0],
            "y": bars[key]["y"],
            "base": bars[key]["base"],
            "x": bars[key]["x"],
            "hovertext": bars[key]["text"],
            "hoverinfo": "text",
            "marker": {"color": names[key][1]},
            "width": 0.6 if key == "gap" else 0.45,
        }
        for key in ("gap", "supply", "shifted")
        if bars[key]["y"]
    ]
    last_day = max([as_of, *(s.last for t in timelines for r in t.rows for s in r.spans)])
    right = min(last_day, year_end) + timedelta(days=1)
    shapes = [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": as_of.isoformat(),
            "x1": as_of.isoformat(),
            "y0": 0,
            "y1": 1,
            "line": {"color": _MUTED, "dash": "dot", "width": 1},
        }
    ]
    return {
        "data": data,
        "layout": {
            "barmode": "overlay",
            "height": 140 + 44 * max(1, len(rows)),
            "margin": {"l": 190, "r": 20, "t": 30, "b": 40},
            "xaxis": {"type": "date", "range": [year_start.isoformat(), right.isoformat()]},
            "yaxis": {
                "type": "category",
                "categoryorder": "array",
                "categoryarray": rows,
                "autorange": "reversed",
            },
            "shapes": shapes,
            "annotations": [
                {
                    "x": as_of.isoformat(),
                    "y": 1,
                    "xref": "x",
                    "yref": "paper",
                    "yanchor": "bottom",
                    "xanchor": "right",
                    "text": f"as of {_label(as_of)}",
                    "showarrow": False,
                    "font": {"color": _MUTED, "size": 11},
                }
            ],
            "legend": {"orientation": "h", "y": -0.15},
            "plot_bgcolor": "#ffffff",
        },
    }


@dataclass(frozen=True, slots=True)
class RatePoint:
    measure: str
    as_of: date
    measured: int
    adherent: int


def rate_trend_figure(
    points: Iterable[RatePoint], *, threshold_percent: int = 80
) -> dict[str, Any]:
    """A plotly figure: one line per measure of the share of measured patients who are
    adherent, at each month end (year to date), with the PDC threshold dashed."""
    series: dict[str, list[RatePoint]] = {}
    for p in sorted(points, key=lambda p: (p.measure, p.as_of)):
        if p.measured:
            series.setdefault(p.measure, []).append(p)
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": measure,
            "x": [p.as_of.isoformat() for p in pts],
            "y": [round(100 * p.adherent / p.measured, 1) for p in pts],
            "hovertext": [
                f"{measure} as of {_label(p.as_of)}: {p.adherent} of {p.measured} adherent"
                for p in pts
            ],
            "hoverinfo": "text",
        }
        for measure, pts in series.items()
    ]
    return {
        "data": data,
        "layout": {
            "height": 340,
            "margin": {"l": 50, "r": 20, "t": 20, "b": 40},
            "xaxis": {"type": "date"},
            "yaxis": {"range": [0, 105], "ticksuffix": "%", "title": {"text": "adherent"}},
            "shapes": [
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "y0": threshold_percent,
                    "y1": threshold_percent,
                    "line": {"color": _MUTED, "dash": "dash", "width": 1},
                }
            ],
            "legend": {"orientation": "h", "y": -0.2},
            "plot_bgcolor": "#ffffff",
        },
    }
