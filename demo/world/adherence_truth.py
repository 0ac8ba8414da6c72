"""PDC per patient and measure, as the simulation knows it (PQA rules, exact arithmetic).

An independent oracle for the adherence engine: written from the PQA summary in DOMAIN.md,
not shared with the product's code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from demo.world.catalog import DRUG_BY_NDC
from demo.world.model import DIABETES, INSULIN, RASA, SACUBITRIL_VALSARTAN, STATIN, Claim

MEASURES = {"PDC-DR": DIABETES, "PDC-RASA": RASA, "PDC-STA": STATIN}
EXCLUSIONS = {"PDC-DR": INSULIN, "PDC-RASA": SACUBITRIL_VALSARTAN}
MIN_PERIOD_DAYS = 91


@dataclass(frozen=True)
class PdcResult:
    location: str
    patient_id: str
    measure: str
    status: str  # measured, excluded, short_period, single_fill
    index_date: date | None
    period_end: date
    days_in_period: int
    covered_days: int
    pdc: Fraction | None

    @property
    def adherent(self) -> bool | None:
        return None if self.pdc is None else self.pdc >= Fraction(4, 5)


def dispensed_fills(claims: list[Claim]) -> list[Claim]:
    """Fills the patient took home: B1 not reversed, and rebills (B3)."""
    reversed_keys = {
        (c.location, c.rx_number, c.fill_number, c.date_of_service)
        for c in claims
        if c.transaction == "B2"
    }
    return [
        c
        for c in claims
        if c.transaction == "B3"
        or (
            c.transaction == "B1"
            and (c.location, c.rx_number, c.fill_number, c.date_of_service) not in reversed_keys
        )
    ]


def covered_days(fills: list[Claim], start: date, end: date) -> int:
    """Days in [start, end] covered by supply. Fills of the same ingredient that overlap are
    shifted forward; different ingredients of the class are not (a day counts once)."""
    days: set[date] = set()
    by_ingredient: dict[str, list[Claim]] = {}
    for f in fills:
        by_ingredient.setdefault(DRUG_BY_NDC[f.ndc].ingredient, []).append(f)
    for series in by_ingredient.values():
        series.sort(key=lambda c: c.date_of_service)
        next_free = date.min
        for f in series:
            first = max(f.date_of_service, next_free)
            for i in range(f.days_supply):
                day = first + timedelta(days=i)
                if day > end:
                    break
                if day >= start:
                    days.add(day)
            next_free = first + timedelta(days=f.days_supply)
    return len(days)


def pdc_results(claims: list[Claim], *, year: int, as_of: date) -> list[PdcResult]:
    period_end = min(date(year, 12, 31), as_of)
    by_patient: dict[tuple[str, str], list[Claim]] = {}
    for f in dispensed_fills(claims):
        if date(year, 1, 1) <= f.date_of_service <= period_end:
            by_patient.setdefault((f.location, f.patient_id), []).append(f)
    results = []
    for (location, patient_id), fills in sorted(by_patient.items()):
        classes = {DRUG_BY_NDC[f.ndc].adherence_class for f in fills}
        for measure, cls in MEASURES.items():
            in_class = [f for f in fills if DRUG_BY_NDC[f.ndc].adherence_class == cls]
            if not in_class:
                continue
            index = min(f.date_of_service for f in in_class)
            period = (period_end - index).days + 1
            covered, pdc = 0, None
            exclusion = EXCLUSIONS.get(measure)
            if exclusion is not None and exclusion in classes:
                status = "excluded"
            elif len({f.date_of_service for f in in_class}) < 2:
                status = "single_fill"
            elif period < MIN_PERIOD_DAYS:
                status = "short_period"
            else:
                status = "measured"
                covered = covered_days(in_class, index, period_end)
                pdc = Fraction(covered, period)
            results.append(
                PdcResult(
                    location=location,
                    patient_id=patient_id,
                    measure=measure,
                    status=status,
                    index_date=index,
                    period_end=period_end,
                    days_in_period=period,
                    covered_days=covered,
                    pdc=pdc,
                )
            )
    return results
