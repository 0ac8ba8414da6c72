"""What is still possible: per patient and PDC measure, given the fills up to an as-of date.

PDC is a cliff: a day missed cannot be bought back. From the year-to-date picture we work
out how many more days the patient can go without supply and still end the year at the
threshold (80%), the last day to refill, and a worklist status:

- `already_lost`: even with supply every remaining day the year ends below the threshold;
- `will_fail_without_action`: the last day to refill is within `urgent_days` of the as-of
  date;
- `at_risk`: recoverable with time to spare, but the PDC to date is below the threshold;
- `adherent`: at or above the threshold to date (or already secured for the year).

The last-day-to-refill assumes that after the refill the patient stays supplied to year end.
Only patients who are, or can still become, measured this year get an outlook (not those
excluded or out of age, nor those whose first fill leaves under 91 days in the year).
Pure: reference arithmetic on plain dataclasses, like `adherence.pdc`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from adherence.measures import Measure, MeasureYear, measure_year
from adherence.pdc import (
    EXCLUDED,
    OUT_OF_AGE,
    Fill,
    counted_fills,
    covered_day_set,
    measure_result,
)

ADHERENT = "adherent"
AT_RISK = "at_risk"
WILL_FAIL = "will_fail_without_action"
LOST = "already_lost"
OUTLOOK_STATUSES = (ADHERENT, AT_RISK, WILL_FAIL, LOST)


@dataclass(frozen=True, slots=True)
class Outlook:
    patient: str
    measure: str
    as_of: date
    status: str
    index_date: date
    pdc_to_date: Fraction  # covered days / days from the index date to as_of
    days_in_year: int  # index date to December 31
    days_needed: int  # covered days needed by December 31 to reach the threshold
    days_can_miss: int  # further days without supply the patient can afford (< 0: lost)
    next_fill_due: date  # the day the current supply runs out (in the past: overdue)
    refill_by: date | None  # last day to refill and still make it; None: lost or secured
    unrecoverable_from: date | None  # the day after refill_by


def outlooks(
    fills: Iterable[Fill],
    *,
    year: int,
    as_of: date,
    birth_dates: Mapping[str, date],
    urgent_days: int = 7,
) -> list[Outlook]:
    """Every patient and PDC measure outlook as of `as_of`, sorted by patient then measure."""
    spec = measure_year(year)
    by_patient: dict[str, list[Fill]] = {}
    for f in counted_fills(fills, start=date(year, 1, 1), end=as_of):
        by_patient.setdefault(f.patient, []).append(f)
    out = []
    for patient in sorted(by_patient):
        for measure in spec.measures:
            if measure.kind != "pdc":
                continue
            row = patient_outlook(
                by_patient[patient],
                measure=measure,
                spec=spec,
                as_of=as_of,
                birth_date=birth_dates.get(patient),
                urgent_days=urgent_days,
            )
            if row is not None:
                out.append(row)
    return out


def patient_outlook(
    fills: Sequence[Fill],
    *,
    measure: Measure,
    spec: MeasureYear,
    as_of: date,
    birth_date: date | None,
    urgent_days: int = 7,
) -> Outlook | None:
    """One patient's outlook for one PDC measure from their counted fills up to as_of."""
    target = [f for f in fills if spec.drug_class(f.ndc) in measure.target]
    if not target or birth_date is None or measure.threshold is None:
        return None
    now = measure_result(fills, measure=measure, spec=spec, period_end=as_of, birth_date=birth_date)
    if now is None or now.status in (EXCLUDED, OUT_OF_AGE):
        return None
    year_end = date(spec.year, 12, 31)
    days_in_year = (year_end - now.index_date).days + 1
    if measure.min_period_days is not None and days_in_year < measure.min_period_days:
        return None
    supplied = covered_day_set(
        target, ingredient_of=spec.ingredient, start=now.index_date, end=date.max
    )
    covered_to_date = sum(1 for d in supplied if d <= as_of)
    t = measure.threshold
    days_needed = -(-(t.numerator * days_in_year) // t.denominator)  # ceiling
    days_can_miss = covered_to_date + (year_end - as_of).days - days_needed
    due = next_fill_due(supplied, as_of=as_of, index_date=now.index_date)
    refill_by = _refill_by(due, as_of=as_of, slack=days_can_miss, year_end=year_end)
    pdc_to_date = Fraction(covered_to_date, (as_of - now.index_date).days + 1)
    if days_can_miss < 0:
        status = LOST
    elif refill_by is None:
        status = ADHERENT  # supply on hand already carries the year over the threshold
    elif refill_by <= as_of + timedelta(days=urgent_days):
        status = WILL_FAIL
    elif pdc_to_date < t:
        status = AT_RISK
    else:
        status = ADHERENT
    return Outlook(
        patient=now.patient,
        measure=measure.code,
        as_of=as_of,
        status=status,
        index_date=now.index_date,
        pdc_to_date=pdc_to_date,
        days_in_year=days_in_year,
        days_needed=days_needed,
        days_can_miss=days_can_miss,
        next_fill_due=due,
        refill_by=refill_by,
        unrecoverable_from=None if refill_by is None else refill_by + timedelta(days=1),
    )


def next_fill_due(supplied: set[date], *, as_of: date, index_date: date) -> date:
    """The first day without supply: after as_of if the patient has supply on as_of,
    otherwise the first day of the gap they are in."""
    day = as_of
    if day in supplied:
        while day in supplied:
            day += timedelta(days=1)
        return day
    while day > index_date and day - timedelta(days=1) not in supplied:
        day -= timedelta(days=1)
    return day


def _refill_by(due: date, *, as_of: date, slack: int, year_end: date) -> date | None:
    """The last day a refill keeps the year at the threshold; None when lost, or when the
    patient can go without supply from their due date to year end and still make it."""
    if slack < 0:
        return None
    first_missable = max(due, as_of + timedelta(days=1))
    last = first_missable + timedelta(days=slack)
    return None if last > year_end else last
