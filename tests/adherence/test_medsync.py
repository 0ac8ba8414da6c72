"""Med sync, hand-worked. Sync date Dec 7, 2026 and a 30-day cycle unless said. A med's
supply runs out on last fill + days' supply (the first day without any)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adherence import medsync
from adherence.medsync import SyncLine, SyncMed

DEC_7 = date(2026, 12, 7)


def med(
    last_fill: date,
    days: int = 30,
    quantity: str = "30",
    *,
    key: str = "rx1",
    cost_cents: int = 1000,
    refills_left: int | None = 3,
    syncable: bool = True,
) -> SyncMed:
    return SyncMed(
        key=key,
        name="Lisinopril 10 mg",
        last_fill=last_fill,
        days_supply=days,
        quantity=Decimal(quantity),
        cost_cents=cost_cents,
        refills_left=refills_left,
        syncable=syncable,
    )


def line(m: SyncMed, *, sync_date: date = DEC_7, cycle: int = 30) -> SyncLine:
    [row] = medsync.alignment([m], sync_date=sync_date, cycle=cycle)
    return row


def test_med_running_out_before_the_sync_date_is_bridged_on_its_run_out_day() -> None:
    # Nov 3 + 30 = Dec 3, 4 days before Dec 7: 4 days x 1 tablet, dispensed Dec 3 (100% used)
    row = line(med(date(2026, 11, 3)))
    assert (row.action, row.fill_on, row.days, row.quantity) == ("bridge", date(2026, 12, 3), 4, 4)
    assert (row.on_hand_days, row.refill_too_soon, row.needs_new_rx) == (0, False, False)
    assert row.note == (
        "Runs out Dec 3, 4 days before the Dec 7 sync date: bridge 4 days (qty 4) on Dec 3, "
        "then the full 30-day cycle on Dec 7."
    )


def test_med_that_already_ran_out_is_bridged_from_today_not_from_the_past() -> None:
    # Oct 10 + 30 = Nov 9. Today is Dec 2: bridge Dec 2 - Dec 6, 5 days, then the cycle.
    [row] = medsync.alignment(
        [med(date(2026, 10, 10))], sync_date=DEC_7, cycle=30, today=date(2026, 12, 2)
    )
    assert (row.action, row.fill_on, row.days) == ("bridge", date(2026, 12, 2), 5)
    assert row.note.startswith("Ran out Nov 9, 23 days before Dec 2: bridge 5 days (qty 5)")
    # on the sync date itself there is nothing to bridge: the full cycle is dispensed
    [same_day] = medsync.alignment(
        [med(date(2026, 10, 10))], sync_date=DEC_7, cycle=30, today=DEC_7
    )
    assert (same_day.action, same_day.fill_on, same_day.days) == ("full", DEC_7, 30)
    # a med that runs out between today and the sync date is still bridged on its own day
    [ahead] = medsync.alignment(
        [med(date(2026, 11, 3))], sync_date=DEC_7, cycle=30, today=date(2026, 12, 1)
    )
    assert (ahead.action, ahead.fill_on, ahead.days) == ("bridge", date(2026, 12, 3), 4)


def test_med_with_days_left_is_short_filled_to_end_with_the_cycle() -> None:
    # Nov 19 + 30 = Dec 19: 12 days on hand on Dec 7, so 30 - 12 = 18 days x 2 tablets = 36.
    # Dec 7 is 18 of 30 days (60%) into the last fill: under 75%, too soon.
    row = line(med(date(2026, 11, 19), 30, "60"))
    assert (row.action, row.fill_on, row.days, row.quantity) == ("short", DEC_7, 18, 36)
    assert (row.on_hand_days, row.refill_too_soon) == (12, True)
    assert "short fill 30 - 12 = 18 days (qty 36) on Dec 7" in row.note
    assert "18 of 30 days of the Nov 19 fill used, under 75%" in row.note


def test_med_running_out_on_the_sync_date_gets_a_full_cycle() -> None:
    # Nov 7 + 30 = Dec 7: nothing on hand, 30 days; 30 of 30 days used, not too soon
    row = line(med(date(2026, 11, 7)))
    assert (row.action, row.fill_on, row.days, row.quantity) == ("full", DEC_7, 30, 30)
    assert (row.on_hand_days, row.refill_too_soon) == (0, False)


def test_a_whole_cycle_on_hand_is_skipped_and_one_day_less_is_a_one_day_short_fill() -> None:
    # Dec 7 + 30 = Jan 6: a 30-day fill on Dec 7 leaves exactly 30 days on hand, skip.
    row = line(med(DEC_7))
    assert (row.action, row.fill_on, row.days, row.quantity) == ("skip", DEC_7, 0, 0)
    assert row.on_hand_days == 30
    # filled Dec 6: runs out Jan 5, 29 on hand; 1 day of the 30, but 1 of 30 days used
    row = line(med(DEC_7 - timedelta(days=1)))
    assert (row.action, row.days, row.on_hand_days, row.refill_too_soon) == ("short", 1, 29, True)


def test_unsyncable_med_is_listed_on_its_own_schedule() -> None:
    row = line(med(date(2026, 11, 19), syncable=False, refills_left=0))
    assert (row.action, row.fill_on, row.days, row.quantity) == (
        "not_synced",
        date(2026, 12, 19),
        0,
        0,
    )
    assert (row.on_hand_days, row.refill_too_soon, row.needs_new_rx) == (12, False, True)
    assert "new prescription" in row.note


def test_refill_too_soon_boundary_is_exactly_three_quarters_used() -> None:
    # 28-day fill Nov 16: Dec 7 is day 21 of 28 = 75% used, allowed; short 28 - 7 = 21 days
    row = line(med(date(2026, 11, 16), 28, "28"), cycle=28)
    assert (row.action, row.days, row.refill_too_soon) == ("short", 21, False)
    # filled a day later (Nov 17): 20 of 28 = 71% used, too soon; short 28 - 8 = 20
    row = line(med(date(2026, 11, 17), 28, "28"), cycle=28)
    assert (row.action, row.days, row.refill_too_soon) == ("short", 20, True)


def test_needs_new_rx_only_when_no_refills_are_known_to_be_left() -> None:
    assert line(med(date(2026, 11, 7), refills_left=0)).needs_new_rx
    assert not line(med(date(2026, 11, 7), refills_left=None)).needs_new_rx
    assert not line(med(date(2026, 11, 7), refills_left=1)).needs_new_rx


def test_quantity_rounds_up_to_whole_units_and_keeps_fractions_to_three_decimals() -> None:
    # 40 tablets / 30 days for 17 days = 22.67: dispense 23, never short
    assert str(medsync.dispense_quantity(med(DEC_7, 30, "40"), 17)) == "23"
    # 75 mL / 30 days = 2.5 mL a day; 7 days = 17.5 mL: whole units, so 18
    assert str(medsync.dispense_quantity(med(DEC_7, 30, "75"), 7)) == "18"
    # 90 tablets / 30 days = 3 a day: 18 days = exactly 54
    assert str(medsync.dispense_quantity(med(DEC_7, 30, "90"), 18)) == "54"
    # a fractional last quantity: 45.5 g / 30 days for 8 days = 12.1333 -> 12.133
    assert medsync.dispense_quantity(med(DEC_7, 30, "45.5"), 8) == Decimal("12.133")
    # half-up, not half-even: 0.001 / 2 days = 0.0005 for 1 day -> 0.001
    assert medsync.dispense_quantity(med(DEC_7, 2, "0.001"), 1) == Decimal("0.001")


def test_sync_dates_repeat_every_cycle_from_the_first() -> None:
    jan_5 = date(2026, 1, 5)
    assert medsync.sync_date_on_or_after(jan_5, 28, date(2025, 12, 1)) == jan_5
    assert medsync.sync_date_on_or_after(jan_5, 28, jan_5) == jan_5
    assert medsync.sync_date_on_or_after(jan_5, 28, date(2026, 1, 6)) == date(2026, 2, 2)
    assert medsync.sync_date_on_or_after(jan_5, 28, date(2026, 2, 2)) == date(2026, 2, 2)
    # Jan 1 + 60 = Mar 2, so Mar 3 waits for Jan 1 + 90 = Apr 1
    assert medsync.sync_date_on_or_after(date(2026, 1, 1), 30, date(2026, 3, 3)) == date(2026, 4, 1)
    # 90-day cycle: Jan 1 + 90 = Apr 1; the day after waits to Apr 1 + 90 = Jun 30
    jan_1 = date(2026, 1, 1)
    assert medsync.sync_date_on_or_after(jan_1, 90, date(2026, 4, 1)) == date(2026, 4, 1)
    assert medsync.sync_date_on_or_after(jan_1, 90, date(2026, 4, 2)) == date(2026, 6, 30)


def test_anchor_is_the_costliest_syncable_med_then_longest_supply_then_key() -> None:
    insulin = med(DEC_7, key="ins", cost_cents=90_000, syncable=False)
    a = med(DEC_7, 30, key="b", cost_cents=5_000)
    b = med(DEC_7, 90, key="c", cost_cents=5_000)
    cheap = med(DEC_7, 90, key="0", cost_cents=4_999)
    assert medsync.propose_anchor([insulin, a, cheap, b]) == b
    c = med(DEC_7, 90, key="a", cost_cents=5_000)
    assert medsync.propose_anchor([insulin, a, b, c]) == c
    assert medsync.propose_anchor([insulin]) is None


def test_sync_date_is_the_anchor_run_out_day_but_never_in_the_past() -> None:
    anchor = med(date(2026, 11, 19))  # runs out Dec 19
    assert medsync.propose_sync_date([anchor], anchor=anchor, today=DEC_7) == date(2026, 12, 19)
    assert medsync.propose_sync_date([anchor], anchor=anchor, today=date(2026, 12, 20)) == date(
        2026, 12, 20
    )


def test_call_window_runs_from_seven_days_before_through_the_sync_date() -> None:
    assert medsync.call_window(DEC_7) == (date(2026, 11, 30), date(2026, 12, 2))
    assert medsync.should_call(DEC_7, today=date(2026, 11, 30))
    assert not medsync.should_call(DEC_7, today=date(2026, 11, 29))
    assert medsync.should_call(DEC_7, today=DEC_7)
    assert not medsync.should_call(DEC_7, today=date(2026, 12, 8))
    assert not medsync.call_is_late(DEC_7, today=date(2026, 12, 2))
    assert medsync.call_is_late(DEC_7, today=date(2026, 12, 3))


def test_invalid_cycle_and_med_are_refused() -> None:
    with pytest.raises(ValueError, match="cycle 31"):
        medsync.alignment([med(DEC_7)], sync_date=DEC_7, cycle=31)
    with pytest.raises(ValueError, match="cycle 0"):
        medsync.sync_date_on_or_after(DEC_7, 0, DEC_7)
    with pytest.raises(ValueError, match=r"rx9 \(Lisinopril 10 mg\)"):
        medsync.alignment([med(DEC_7, 0, key="rx9")], sync_date=DEC_7, cycle=30)
    with pytest.raises(ValueError, match="rx9"):
        medsync.alignment([med(DEC_7, 30, "0", key="rx9")], sync_date=DEC_7, cycle=30)


@given(
    last_fill=st.dates(date(2026, 1, 1), date(2026, 12, 31)),
    days_supply=st.integers(1, 120),
    offset=st.integers(-130, 130),
    cycle=st.sampled_from(medsync.CYCLES),
)
def test_after_the_line_every_synced_med_runs_out_with_the_cycle(
    last_fill: date, days_supply: int, offset: int, cycle: int
) -> None:
    m = med(last_fill, days_supply, str(days_supply))  # one unit a day
    sync = last_fill + timedelta(days=offset)
    row = line(m, sync_date=sync, cycle=cycle)
    assert row.quantity == row.days
    assert row.on_hand_days == max(0, (m.runs_out - sync).days)
    # a refill starts when the supply on hand runs out (or on the fill day, if later)
    runs_out_after = max(row.fill_on, m.runs_out) + timedelta(days=row.days)
    if row.action in ("short", "full"):
        assert row.fill_on == sync
        assert runs_out_after == sync + timedelta(days=cycle)
        assert 0 < row.days <= cycle
    elif row.action == "bridge":
        assert (row.fill_on, runs_out_after) == (m.runs_out, sync)
        assert not row.refill_too_soon
    else:
        assert row.action == "skip"
        assert (row.days, row.on_hand_days >= cycle) == (0, True)
