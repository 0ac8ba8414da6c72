"""PQA Proportion of Days Covered and SUPD: the readable reference implementation.

Plain functions over plain dataclasses, exact arithmetic (Fraction), one patient at a time.
`adherence.engine` computes the same rows set-based for a whole chain; property tests hold
the two equal. The rules (DOMAIN.md §1.1, PQA):

- a fill counts when it was taken home: status paid or cash (a reversed claim does not);
- the measurement period runs from January 1 to December 31, or to the as-of date for a
  year-to-date figure; fills dated after the period end are not seen;
- the patient must be of age on the first day of the measurement year (18+ for PDC, 40-75
  for SUPD) and have fills of the measure's drugs on >= 2 different dates of service;
- one fill of an exclusion drug in the period excludes the patient (insulin for PDC-DR,
  sacubitril/valsartan for PDC-RASA);
- the index date is the first target fill in the period; the treatment period runs from it
  to the period end and must be >= 91 days;
- overlapping fills of the same active ingredient are shifted forward (the patient finishes
  one before starting the next); different drugs of the class are not shifted, and a day
  covered by several counts once; supply past the period end is cut off;
- PDC = covered days / days in the treatment period; adherent at PDC >= 80%;
- SUPD: of patients with >= 2 diabetes fills, those with >= 1 statin fill meet the measure.

Per-location figures attribute a patient to the location that dispensed >= 51% of their
days' supply of the measure's target drugs (PQA pharmacy-level measures); None otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from adherence.measures import Measure, MeasureYear, measure_year

# Fill statuses of a dispensed claim (claims.Fill.Status); "reversed" never counts.
COUNTED_STATUSES = frozenset({"paid", "cash"})
ATTRIBUTION_SHARE = Fraction(51, 100)

MEASURED = "measured"  # in the denominator: PDC computed (or, for SUPD, statin use known)
EXCLUDED = "excluded"  # a fill of an exclusion drug (insulin, sacubitril/valsartan)
SINGLE_FILL = "single_fill"  # target fills on fewer than 2 dates of service
SHORT_PERIOD = "short_period"  # treatment period under 91 days
OUT_OF_AGE = "out_of_age"  # too young (or, for SUPD, too old) on January 1
STATUSES = (MEASURED, EXCLUDED, SINGLE_FILL, SHORT_PERIOD, OUT_OF_AGE)


@dataclass(frozen=True, slots=True)
class Fill:
    """One dispensing as the calculation needs it. `patient` is a chain-wide patient key."""

    patient: str
    location: str
    ndc: str  # 11 digits
    date_of_service: date
    days_supply: int
    status: str = "paid"


@dataclass(frozen=True, slots=True)
class MeasureResult:
    """One patient and measure. Rows exist for every patient with a target fill in the period;
    `status` says whether they are measured. `covered_days`, `pdc` and `adherent` are filled
    for measured PDC rows; for measured SUPD rows `adherent` means "had a statin fill"."""

    patient: str
    measure: str
    status: str
    index_date: date
    period_end: date
    days_in_period: int
    covered_days: int
    pdc: Fraction | None
    adherent: bool | None
    location: str | None  # attributed location (>= 51% of the target days' supply)


def period_end_for(year: int, as_of: date | None = None) -> date:
    """December 31 of `year`, or `as_of` when it falls earlier (year-to-date)."""
    year_end = date(year, 12, 31)
    if as_of is None:
        return year_end
    if as_of < date(year, 1, 1):
        raise ValueError(f"as_of {as_of} is before measurement year {year}")
    return min(year_end, as_of)


def age_on(birth_date: date, day: date) -> int:
    """Whole years of age on `day` (a birthday counts on the day itself)."""
    had_birthday = (day.month, day.day) >= (birth_date.month, birth_date.day)
    return day.year - birth_date.year - (0 if had_birthday else 1)


def counted_fills(fills: Iterable[Fill], *, start: date, end: date) -> list[Fill]:
    """Fills taken home with a date of service in [start, end]."""
    return [f for f in fills if f.status in COUNTED_STATUSES and start <= f.date_of_service <= end]


def shifted_supply(fills: Sequence[Fill]) -> list[tuple[date, int]]:
    """(first day, days) of each fill of ONE ingredient, shifted so a refill starts the day
    after the previous supply runs out when it was filled early."""
    spans = []
    next_free = date.min
    for f in sorted(fills, key=lambda f: f.date_of_service):
        first = max(f.date_of_service, next_free)
        spans.append((first, f.days_supply))
        next_free = first + timedelta(days=f.days_supply)
    return spans


def covered_day_set(
    fills: Sequence[Fill], *, ingredient_of: Callable[[str], str], start: date, end: date
) -> set[date]:
    """Days in [start, end] covered by the fills: same ingredient shifted, a day counts once."""
    by_ingredient: dict[str, list[Fill]] = {}
    for f in fills:
        by_ingredient.setdefault(ingredient_of(f.ndc), []).append(f)
    days: set[date] = set()
    for series in by_ingredient.values():
        for first, supply in shifted_supply(series):
            last = min(first + timedelta(days=supply - 1), end)
            day = max(first, start)
            while day <= last:
                days.add(day)
                day += timedelta(days=1)
    return days


def covered_days(
    fills: Sequence[Fill], *, ingredient_of: Callable[[str], str], start: date, end: date
) -> int:
    """How many days of [start, end] the fills cover (see covered_day_set)."""
    return len(covered_day_set(fills, ingredient_of=ingredient_of, start=start, end=end))


def attributed_location(fills: Iterable[Fill]) -> str | None:
    """The location that dispensed >= 51% of the fills' days' supply, or None."""
    supply: dict[str, int] = {}
    for f in fills:
        supply[f.location] = supply.get(f.location, 0) + f.days_supply
    total = sum(supply.values())
    for location, days in sorted(supply.items()):
        if total and Fraction(days, total) >= ATTRIBUTION_SHARE:
            return location
    return None


def in_age_range(measure: Measure, *, birth_date: date, year: int) -> bool:
    age = age_on(birth_date, date(year, 1, 1))
    return age >= measure.min_age and (measure.max_age is None or age <= measure.max_age)


def measure_result(
    fills: Sequence[Fill],
    *,
    measure: Measure,
    spec: MeasureYear,
    period_end: date,
    birth_date: date,
) -> MeasureResult | None:
    """One patient's row for one measure, from their counted fills in the period; None when
    the patient has no fill of the measure's target drugs."""
    target = [f for f in fills if spec.drug_class(f.ndc) in measure.target]
    if not target:
        return None
    index_date = min(f.date_of_service for f in target)
    days_in_period = (period_end - index_date).days + 1
    classes = {spec.drug_class(f.ndc) for f in fills}
    if not in_age_range(measure, birth_date=birth_date, year=spec.year):
        status = OUT_OF_AGE
    elif classes & measure.exclusions:
        status = EXCLUDED
    elif len({f.date_of_service for f in target}) < measure.min_fills:
        status = SINGLE_FILL
    elif measure.min_period_days is not None and days_in_period < measure.min_period_days:
        status = SHORT_PERIOD
    else:
        status = MEASURED
    covered, pdc, adherent = 0, None, None
    if status == MEASURED and measure.kind == "pdc":
        covered = covered_days(
            target, ingredient_of=spec.ingredient, start=index_date, end=period_end
        )
        pdc = Fraction(covered, days_in_period)
        adherent = measure.threshold is not None and pdc >= measure.threshold
    elif status == MEASURED:  # SUPD: met by any statin fill in the period
        adherent = bool(classes & measure.numerator)
    return MeasureResult(
        patient=target[0].patient,
        measure=measure.code,
        status=status,
        index_date=index_date,
        period_end=period_end,
        days_in_period=days_in_period,
        covered_days=covered,
        pdc=pdc,
        adherent=adherent,
        location=attributed_location(target),
    )


def measure_results(
    fills: Iterable[Fill],
    *,
    year: int,
    birth_dates: Mapping[str, date],
    as_of: date | None = None,
) -> list[MeasureResult]:
    """Every patient and measure row for `year` (to `as_of` when given), sorted by patient then
    measure. `birth_dates` maps each patient key to a birth date; a patient with target fills
    and no birth date raises KeyError (age decides eligibility, so it is never guessed)."""
    spec = measure_year(year)
    end = period_end_for(year, as_of)
    by_patient: dict[str, list[Fill]] = {}
    for f in counted_fills(fills, start=date(year, 1, 1), end=end):
        by_patient.setdefault(f.patient, []).append(f)
    results = []
    for patient in sorted(by_patient):
        patient_fills = by_patient[patient]
        for measure in spec.measures:
            if not any(spec.drug_class(f.ndc) in measure.target for f in patient_fills):
                continue
            if patient not in birth_dates:
                raise KeyError(f"no birth date for patient {patient!r}")
            row = measure_result(
                patient_fills,
                measure=measure,
                spec=spec,
                period_end=end,
                birth_date=birth_dates[patient],
            )
            if row is not None:
                results.append(row)
    return results


def unknown_ndcs(fills: Iterable[Fill], *, year: int) -> set[str]:
    """NDCs of counted fills that the year's value sets do not know (to report, not guess)."""
    return measure_year(year).unknown_ndcs(f.ndc for f in fills if f.status in COUNTED_STATUSES)
