"""What is still possible, hand-worked. Year 2026 (365 days); as of June 30 unless said:
Jul 1-Dec 31 leaves 184 days. A full-year period from Jan 1 needs ceil(0.8 x 365) = 292."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from fractions import Fraction

import pandas as pd

from adherence import engine, outlook
from adherence.outlook import Outlook
from adherence.pdc import Fill

LISINOPRIL = "68180051301"  # RASA
ENTRESTO = "00078065920"  # excludes from PDC-RASA
JUNE_30 = date(2026, 6, 30)


def fill(dos: date, days: int, ndc: str = LISINOPRIL) -> Fill:
    return Fill(patient="p1", location="A", ndc=ndc, date_of_service=dos, days_supply=days)


def rasa(fills: list[Fill], as_of: date = JUNE_30) -> Outlook | None:
    """The reference outlook, after checking that the set-based engine says exactly the same."""
    births = {"p1": date(1960, 6, 1)}
    rows = outlook.outlooks(fills, year=2026, as_of=as_of, birth_dates=births)
    frame = engine.outlook_frame(
        pd.DataFrame([asdict(f) for f in fills], columns=list(engine.FILL_COLUMNS)),
        patients=pd.DataFrame({"patient": list(births), "birth_date": list(births.values())}),
        as_of=as_of,
    )
    assert engine.outlooks_from_frame(frame, as_of=as_of) == rows
    return next((r for r in rows if r.measure == "PDC-RASA"), None)


def test_on_time_patient_is_adherent_with_72_days_to_spare() -> None:
    # 30-day fills Jan 1, Jan 31, Mar 2, Apr 1, May 1, May 31 cover Jan 1-Jun 29: 180 of 181.
    # Best case 180 + 184 = 364; 364 - 292 = 72 days can still be missed. Supply ran out
    # Jun 30 (due); from Jul 1, 72 missable days take them to Sep 11: refill by Sep 11.
    days = [date(2026, 1, 1), date(2026, 1, 31), date(2026, 3, 2)]
    days += [date(2026, 4, 1), date(2026, 5, 1), date(2026, 5, 31)]
    row = rasa([fill(d, 30) for d in days])
    assert row is not None
    assert (row.pdc_to_date, row.days_needed, row.days_can_miss) == (Fraction(180, 181), 292, 72)
    assert (row.next_fill_due, row.refill_by) == (date(2026, 6, 30), date(2026, 9, 11))
    assert (row.unrecoverable_from, row.status) == (date(2026, 9, 12), "adherent")


def test_patient_who_must_refill_within_days_will_fail_without_action() -> None:
    # 90 days from Jan 1 (Jan 1-Mar 31) + 22 days from Jun 1 (Jun 1-22): 112 covered.
    # 112 + 184 - 292 = 4 missable days: refill by Jul 1 + 4 = Jul 5, within a week.
    row = rasa([fill(date(2026, 1, 1), 90), fill(date(2026, 6, 1), 22)])
    assert row is not None
    assert (row.days_can_miss, row.next_fill_due) == (4, date(2026, 6, 23))
    assert (row.refill_by, row.status) == (date(2026, 7, 5), "will_fail_without_action")


def test_will_fail_window_includes_its_last_day() -> None:
    # As above with 24 then 25 days from Jun 1: 114 and 115 covered, 6 and 7 missable days.
    # Refill by Jul 1 + 6 = Jul 7 = Jun 30 + 7: inside the week, will fail without action.
    # Refill by Jul 8 is a day outside it: at risk (115/181 to date is under 80%).
    on_edge = rasa([fill(date(2026, 1, 1), 90), fill(date(2026, 6, 1), 24)])
    outside = rasa([fill(date(2026, 1, 1), 90), fill(date(2026, 6, 1), 25)])
    assert on_edge is not None
    assert outside is not None
    assert (on_edge.refill_by, on_edge.status) == (date(2026, 7, 7), "will_fail_without_action")
    assert (outside.refill_by, outside.status) == (date(2026, 7, 8), "at_risk")


def test_patient_below_80_with_time_to_recover_is_at_risk() -> None:
    # Index Apr 1: Apr 1-Dec 31 = 275 days, needs ceil(0.8 x 275) = 220. Fills Apr 1 and
    # May 15 (30 days each) cover 60 of the 91 days to Jun 30. 60 + 184 - 220 = 24: refill
    # by Jul 1 + 24 = Jul 25.
    row = rasa([fill(date(2026, 4, 1), 30), fill(date(2026, 5, 15), 30)])
    assert row is not None
    assert (row.pdc_to_date, row.days_needed, row.days_can_miss) == (Fraction(60, 91), 220, 24)
    assert (row.refill_by, row.status) == (date(2026, 7, 25), "at_risk")


def test_patient_who_cannot_reach_80_is_already_lost() -> None:
    # 60 covered by Jun 30; 60 + 184 = 244 < 292.
    row = rasa([fill(date(2026, 1, 1), 30), fill(date(2026, 2, 1), 30)])
    assert row is not None
    assert (row.days_can_miss, row.refill_by, row.status) == (-48, None, "already_lost")


def test_supply_on_hand_that_secures_the_year_needs_no_refill_date() -> None:
    # As of Nov 30: 180 days from Jan 1 (Jan 1-Jun 29), 180 from Jul 1 (Jul 1-Dec 27):
    # 333 covered of 334; due Dec 28. 333 + 31 - 292 = 72 > the 4 days left uncovered.
    row = rasa([fill(date(2026, 1, 1), 180), fill(date(2026, 7, 1), 180)], date(2026, 11, 30))
    assert row is not None
    assert (row.next_fill_due, row.days_can_miss) == (date(2026, 12, 28), 72)
    assert (row.refill_by, row.status) == (None, "adherent")


def test_excluded_and_too_late_patients_get_no_outlook() -> None:
    assert rasa([fill(date(2026, 1, 1), 30), fill(date(2026, 2, 1), 30, ENTRESTO)]) is None
    # first fill Oct 15: Oct 15-Dec 31 is 78 days < 91, never measured this year
    assert rasa([fill(date(2026, 10, 15), 30)], date(2026, 10, 20)) is None
