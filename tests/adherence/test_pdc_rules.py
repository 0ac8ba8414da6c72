"""Hand-worked cases, one per PQA rule, with the arithmetic written out. Each case runs
through the reference (adherence.pdc) and the set-based engine (adherence.engine), and both
must give the worked answer. Measurement year 2026 (not a leap year: 365 days)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from fractions import Fraction

import pandas as pd
import pytest

from adherence import engine, pdc
from adherence.pdc import Fill, MeasureResult

# NDCs from adherence/valuesets/my2026.json
METFORMIN = "68180033609"  # DR, metformin
METFORMIN_ER = "00093726701"  # DR, metformin (same ingredient, other product)
GLIPIZIDE = "60505014101"  # DR, glipizide
INSULIN = "00088221905"  # INSULIN
LISINOPRIL = "68180051301"  # RASA, lisinopril
LOSARTAN = "00781570692"  # RASA, losartan
ENTRESTO = "00078065920"  # SACVAL
ATORVASTATIN = "60505257909"  # STA
AMOXICILLIN = "65862001705"  # known, not targeted

ADULT = date(1960, 6, 1)  # 65 on 2026-01-01: in range for PDC (18+) and SUPD (40-75)


def fill(ndc: str, dos: date, days: int, *, loc: str = "A", status: str = "paid") -> Fill:
    return Fill(
        patient="p1", location=loc, ndc=ndc, date_of_service=dos, days_supply=days, status=status
    )


def results(
    fills: list[Fill], *, as_of: date | None = None, born: date = ADULT
) -> dict[str, MeasureResult]:
    """Both paths; asserts they agree and returns the rows by measure."""
    births = {"p1": born}
    reference = pdc.measure_results(fills, year=2026, birth_dates=births, as_of=as_of)
    frame = engine.measure_frame(
        pd.DataFrame([asdict(f) for f in fills], columns=list(engine.FILL_COLUMNS)),
        patients=pd.DataFrame({"patient": ["p1"], "birth_date": [born]}),
        year=2026,
        as_of=as_of,
    )
    assert engine.results_from_frame(frame) == reference
    return {r.measure: r for r in reference}


def test_same_ingredient_overlap_is_shifted_forward() -> None:
    # metformin 30 days on Jan 1 covers Jan 1-30; metformin ER on Jan 21 (10 days early) is
    # the same ingredient, so it starts Jan 31 and covers Jan 31-Mar 1: 30 + 30 = 60 days.
    # Period Jan 1-Dec 31 = 365 days. PDC = 60/365 = 12/73.
    row = results(
        [fill(METFORMIN, date(2026, 1, 1), 30), fill(METFORMIN_ER, date(2026, 1, 21), 30)]
    )
    assert row["PDC-DR"].covered_days == 60
    assert row["PDC-DR"].pdc == Fraction(12, 73)


def test_different_drugs_in_the_class_overlap_and_count_a_day_once() -> None:
    # metformin Jan 1 for 30 days (Jan 1-30); glipizide Jan 21 for 30 days (Jan 21-Feb 19) is
    # another drug of the class: not shifted. Union Jan 1-Feb 19 = 31 + 19 = 50 days.
    row = results([fill(METFORMIN, date(2026, 1, 1), 30), fill(GLIPIZIDE, date(2026, 1, 21), 30)])
    assert row["PDC-DR"].covered_days == 50
    assert row["PDC-DR"].pdc == Fraction(50, 365)


def test_supply_is_truncated_at_the_period_end() -> None:
    # Index Oct 1: period Oct 1-Dec 31 = 31 + 30 + 31 = 92 days. Atorvastatin 90 days on Oct 1
    # covers Oct 1-Dec 29; the Dec 1 refill is shifted to Dec 30 and only Dec 30-31 (2 of its
    # 90 days) fall in the period. Covered 90 + 2 = 92 = the whole period: PDC 1.
    row = results(
        [fill(ATORVASTATIN, date(2026, 10, 1), 90), fill(ATORVASTATIN, date(2026, 12, 1), 90)]
    )
    assert (row["PDC-STA"].days_in_period, row["PDC-STA"].covered_days) == (92, 92)
    assert row["PDC-STA"].pdc == 1


def test_treatment_period_of_90_days_is_too_short_and_91_is_enough() -> None:
    # Index Oct 3: Oct 3-31 (29) + Nov (30) + Dec (31) = 90 days < 91.
    short = results(
        [fill(LISINOPRIL, date(2026, 10, 3), 30), fill(LISINOPRIL, date(2026, 11, 2), 30)]
    )
    assert (short["PDC-RASA"].status, short["PDC-RASA"].days_in_period) == ("short_period", 90)
    assert short["PDC-RASA"].pdc is None
    # Index Oct 2: 91 days. Oct 2 + 30 days covers Oct 2-31; Nov 2 + 30 covers Nov 2-Dec 1
    # (Nov 1 is a gap): 30 + 30 = 60 of 91.
    ok = results([fill(LISINOPRIL, date(2026, 10, 2), 30), fill(LISINOPRIL, date(2026, 11, 2), 30)])
    assert (ok["PDC-RASA"].status, ok["PDC-RASA"].covered_days) == ("measured", 60)
    assert ok["PDC-RASA"].pdc == Fraction(60, 91)


def test_two_fills_on_the_same_date_of_service_are_a_single_fill() -> None:
    row = results([fill(LISINOPRIL, date(2026, 2, 1), 30), fill(LOSARTAN, date(2026, 2, 1), 30)])
    assert row["PDC-RASA"].status == "single_fill"
    assert row["PDC-RASA"].index_date == date(2026, 2, 1)


def test_eighty_percent_exactly_is_adherent_and_one_day_less_is_not() -> None:
    # As of Apr 10: period Jan 1-Apr 10 = 31 + 28 + 31 + 10 = 100 days.
    # Lisinopril 40 days on Jan 1 (Jan 1-Feb 9) and 40 days on Feb 20 (Feb 20-Mar 31): 80/100.
    as_of = date(2026, 4, 10)
    at = results(
        [fill(LISINOPRIL, date(2026, 1, 1), 40), fill(LISINOPRIL, date(2026, 2, 20), 40)],
        as_of=as_of,
    )
    assert (at["PDC-RASA"].pdc, at["PDC-RASA"].adherent) == (Fraction(4, 5), True)
    # 40 + 39 = 79/100 < 4/5
    below = results(
        [fill(LISINOPRIL, date(2026, 1, 1), 40), fill(LISINOPRIL, date(2026, 2, 20), 39)],
        as_of=as_of,
    )
    assert (below["PDC-RASA"].pdc, below["PDC-RASA"].adherent) == (Fraction(79, 100), False)


def test_year_to_date_ends_the_period_at_the_as_of_date_and_ignores_later_fills() -> None:
    # As of Jun 30: period Jan 1-Jun 30 = 181 days. Six 30-day fills every 30 days from Jan 1
    # cover Jan 1-Jun 29 = 180 days; the Jul 1 fill is after the as-of date and not seen.
    fills = [
        fill(ATORVASTATIN, d, 30)
        for d in (
            date(2026, 1, 1),
            date(2026, 1, 31),
            date(2026, 3, 2),
            date(2026, 4, 1),
            date(2026, 5, 1),
            date(2026, 5, 31),
            date(2026, 7, 1),
        )
    ]
    row = results(fills, as_of=date(2026, 6, 30))["PDC-STA"]
    assert (row.period_end, row.days_in_period, row.covered_days) == (date(2026, 6, 30), 181, 180)


def test_fills_before_the_measurement_year_do_not_count() -> None:
    # A 90-day fill on Dec 15, 2025 would cover into 2026, but PQA counts fills in the year.
    # Index Feb 1: Feb 1-Dec 31 = 334 days; two 30-day fills cover 60.
    row = results(
        [
            fill(ATORVASTATIN, date(2025, 12, 15), 90),
            fill(ATORVASTATIN, date(2026, 2, 1), 30),
            fill(ATORVASTATIN, date(2026, 3, 3), 30),
        ]
    )["PDC-STA"]
    assert (row.index_date, row.days_in_period, row.covered_days) == (date(2026, 2, 1), 334, 60)


def test_a_reversed_fill_does_not_count() -> None:
    row = results(
        [
            fill(LISINOPRIL, date(2026, 1, 5), 30),
            fill(LISINOPRIL, date(2026, 2, 4), 30, status="reversed"),
        ]
    )
    assert row["PDC-RASA"].status == "single_fill"


def test_a_cash_fill_counts() -> None:
    row = results(
        [
            fill(LISINOPRIL, date(2026, 1, 1), 30),
            fill(LISINOPRIL, date(2026, 1, 31), 30, status="cash"),
        ]
    )
    # Jan 1-Mar 1 = 60 days of Jan 1-Dec 31 = 365.
    assert (row["PDC-RASA"].status, row["PDC-RASA"].covered_days) == ("measured", 60)


def test_insulin_excludes_from_pdc_dr_but_counts_as_diabetes_for_supd() -> None:
    row = results([fill(METFORMIN, date(2026, 1, 1), 30), fill(INSULIN, date(2026, 2, 1), 30)])
    assert row["PDC-DR"].status == "excluded"
    # SUPD: diabetes fills (metformin, insulin) on 2 dates, no statin: measured, not met.
    assert (row["SUPD"].status, row["SUPD"].adherent) == ("measured", False)


def test_sacubitril_valsartan_excludes_from_pdc_rasa() -> None:
    row = results(
        [
            fill(LOSARTAN, date(2026, 1, 1), 30),
            fill(LOSARTAN, date(2026, 1, 31), 30),
            fill(ENTRESTO, date(2026, 6, 1), 30),
        ]
    )
    assert row["PDC-RASA"].status == "excluded"
    assert row["PDC-RASA"].pdc is None


def test_supd_is_met_by_one_statin_fill() -> None:
    row = results(
        [
            fill(METFORMIN, date(2026, 1, 1), 30),
            fill(METFORMIN, date(2026, 1, 31), 30),
            fill(ATORVASTATIN, date(2026, 3, 1), 30),
        ]
    )
    assert (row["SUPD"].status, row["SUPD"].adherent) == ("measured", True)
    assert row["PDC-STA"].status == "single_fill"


@pytest.mark.parametrize(
    ("born", "pdc_status", "supd_status"),
    [
        (date(2008, 1, 2), "out_of_age", "out_of_age"),  # 17 on Jan 1, 2026
        (date(2008, 1, 1), "measured", "out_of_age"),  # 18 on Jan 1
        (date(1986, 1, 1), "measured", "measured"),  # 40 on Jan 1
        (date(1986, 1, 2), "measured", "out_of_age"),  # 39 on Jan 1
        (date(1950, 1, 2), "measured", "measured"),  # 75 on Jan 1
        (date(1950, 1, 1), "measured", "out_of_age"),  # 76 on Jan 1
    ],
)
def test_age_is_taken_on_the_first_day_of_the_year(
    born: date, pdc_status: str, supd_status: str
) -> None:
    row = results(
        [fill(METFORMIN, date(2026, 1, 1), 30), fill(METFORMIN, date(2026, 1, 31), 30)], born=born
    )
    assert (row["PDC-DR"].status, row["SUPD"].status) == (pdc_status, supd_status)


def test_attribution_needs_51_percent_of_the_days_supply() -> None:
    # A: 60 of 90 days (67%) -> A.
    two_thirds = results(
        [fill(LISINOPRIL, date(2026, 1, 1), 60), fill(LISINOPRIL, date(2026, 3, 2), 30, loc="B")]
    )
    assert two_thirds["PDC-RASA"].location == "A"
    # B: 51 of 100 days (51%) -> B.
    just = results(
        [fill(LISINOPRIL, date(2026, 1, 1), 49), fill(LISINOPRIL, date(2026, 2, 19), 51, loc="B")]
    )
    assert just["PDC-RASA"].location == "B"
    # 50/50: nobody reaches 51%.
    even = results(
        [fill(LISINOPRIL, date(2026, 1, 1), 30), fill(LISINOPRIL, date(2026, 1, 31), 30, loc="B")]
    )
    assert even["PDC-RASA"].location is None


def test_non_target_drugs_make_no_rows() -> None:
    assert (
        results([fill(AMOXICILLIN, date(2026, 1, 1), 10), fill(AMOXICILLIN, date(2026, 2, 1), 10)])
        == {}
    )


def test_unknown_ndcs_are_reported_and_not_counted() -> None:
    fills = [
        fill(LISINOPRIL, date(2026, 1, 1), 30),
        fill("99999000001", date(2026, 1, 31), 30),
        fill("99999000002", date(2026, 2, 1), 30, status="reversed"),
    ]
    assert pdc.unknown_ndcs(fills, year=2026) == {"99999000001"}
    frame = pd.DataFrame([asdict(f) for f in fills])
    assert engine.unknown_ndcs(frame, year=2026) == {"99999000001"}
    assert results(fills)["PDC-RASA"].status == "single_fill"


def test_a_patient_with_target_fills_and_no_birth_date_is_refused() -> None:
    fills = [fill(LISINOPRIL, date(2026, 1, 1), 30)]
    with pytest.raises(KeyError, match="p1"):
        pdc.measure_results(fills, year=2026, birth_dates={})
    with pytest.raises(KeyError, match="p1"):
        engine.measure_frame(
            pd.DataFrame([asdict(f) for f in fills]),
            patients=pd.DataFrame({"patient": ["p2"], "birth_date": [ADULT]}),
            year=2026,
        )


def test_as_of_before_the_year_is_refused() -> None:
    with pytest.raises(ValueError, match="before measurement year"):
        pdc.period_end_for(2026, date(2025, 12, 31))
