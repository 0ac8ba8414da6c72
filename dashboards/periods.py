"""Date ranges of the dashboards (pure): the presets an owner picks, and the period each is
compared with.

A period is a range of dates of service, both ends included. The comparison period is the
same stretch one step back: month to date against the same days of the month before
(clipped to its length), last month against the month before it, quarter and year to date
against the same days of the previous quarter and year, a custom range or the last 30 days
against as many days just before it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

PRESETS = {
    "30d": "Last 30 days",
    "mtd": "Month to date",
    "last_month": "Last month",
    "qtd": "Quarter to date",
    "ytd": "Year to date",
    "custom": "Custom",
}
DEFAULT_PRESET = "30d"
MAX_DAYS = 3 * 366  # a custom range longer than this is cut to its last MAX_DAYS days


@dataclass(frozen=True)
class Period:
    preset: str
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        if self.start == self.end:
            return f"{self.start:%b} {self.start.day}, {self.start.year}"
        if self.start.year == self.end.year:
            return (
                f"{self.start:%b} {self.start.day} to {self.end:%b} {self.end.day}, {self.end.year}"
            )
        return (
            f"{self.start:%b} {self.start.day}, {self.start.year} to "
            f"{self.end:%b} {self.end.day}, {self.end.year}"
        )


def _shift_months(day: date, months: int) -> date:
    """The same day of the month `months` later (or earlier), clipped to that month's end."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def period_for(
    preset: str, *, today: date, start: date | None = None, end: date | None = None
) -> Period:
    """The period of `preset` (one of PRESETS; anything else is the default) as of `today`.
    `custom` takes `start`..`end` (swapped when reversed; a missing end is today, a missing
    start 30 days before the end)."""
    if preset == "mtd":
        return Period(preset, today.replace(day=1), today)
    if preset == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return Period(preset, last.replace(day=1), last)
    if preset == "qtd":
        return Period(preset, _quarter_start(today), today)
    if preset == "ytd":
        return Period(preset, date(today.year, 1, 1), today)
    if preset == "custom" and (start or end):
        end = end or today
        start = start or end - timedelta(days=29)
        if start > end:
            start, end = end, start
        start = max(start, end - timedelta(days=MAX_DAYS - 1))
        return Period(preset, start, end)
    return Period(DEFAULT_PRESET, today - timedelta(days=29), today)


def previous_period(period: Period) -> Period:
    """The period `period` is compared with (see the module doc)."""
    if period.preset == "last_month":
        end = period.start - timedelta(days=1)
        return Period(period.preset, end.replace(day=1), end)
    if period.preset in ("mtd", "qtd", "ytd"):
        months = {"mtd": 1, "qtd": 3, "ytd": 12}[period.preset]
        start = _shift_months(period.start, -months)
        end = _shift_months(period.end, -months)
        # clipped at the end of the previous stretch (Mar 31 -> Feb 28, not into March)
        limit = period.start - timedelta(days=1)
        return Period(period.preset, start, min(end, limit))
    end = period.start - timedelta(days=1)
    return Period(period.preset, end - timedelta(days=period.days - 1), end)
