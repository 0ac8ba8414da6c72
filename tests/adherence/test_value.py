"""What closing an item is worth: hand-worked values and their reasons."""

from __future__ import annotations

from datetime import date

import pytest

from adherence.value import fills_left, money, refill_value, sync_value

YEAR_END = date(2026, 12, 31)


def test_fills_left_counts_the_due_fill_and_every_cycle_to_december_31() -> None:
    # Nov 23 - Dec 31 is 39 days: a 30-day fill now and one more on Dec 23
    assert fills_left(due=date(2026, 11, 23), days_supply=30, year_end=YEAR_END) == 2
    # Dec 2 - Dec 31 is exactly 30 days: one fill
    assert fills_left(due=date(2026, 12, 2), days_supply=30, year_end=YEAR_END) == 1
    # a 90-day fill due in July: 184 days left, ceil(184 / 90) = 3
    assert fills_left(due=date(2026, 7, 1), days_supply=90, year_end=YEAR_END) == 3
    with pytest.raises(ValueError, match="positive"):
        fills_left(due=date(2026, 7, 1), days_supply=0, year_end=YEAR_END)


def test_fee_for_service_refill_is_margin_times_fills_left() -> None:
    v = refill_value(
        measure="PDC-STA",
        outlook="at_risk",
        margin_per_fill_cents=1234,
        days_supply=30,
        due=date(2026, 11, 23),
        year_end=YEAR_END,
        value_based=False,
    )
    assert v.cents == 2468
    assert v.reason == "$12.34 margin per 30-day fill x 2 fills left this year = $24.68."


@pytest.mark.parametrize(
    ("outlook", "secured", "stake"),
    [
        ("will_fail_without_action", False, 15000),
        ("at_risk", False, 7500),
        ("adherent", False, 3750),
        ("adherent", True, 0),
        ("already_lost", False, 0),
    ],
)
def test_value_based_plans_add_the_quality_stake_by_outlook(
    outlook: str, secured: bool, stake: int
) -> None:
    v = refill_value(
        measure="PDC-DR",
        outlook=outlook,
        margin_per_fill_cents=1000,
        days_supply=30,
        due=date(2026, 12, 2),
        year_end=YEAR_END,
        value_based=True,
        secured=secured,
    )
    assert v.cents == 1000 + stake
    assert "value-based plan" in v.reason


def test_a_below_cost_drug_has_a_negative_value_and_says_why() -> None:
    v = refill_value(
        measure="PDC-DR",
        outlook="at_risk",
        margin_per_fill_cents=-4210,
        days_supply=30,
        due=date(2026, 12, 2),
        year_end=YEAR_END,
        value_based=False,
    )
    assert v.cents == -4210
    assert "below cost" in v.reason


def test_sync_value_sums_the_fills_due_and_money_formats_cents() -> None:
    assert sync_value([1200, 350, -100]).cents == 1450
    assert sync_value([1200]).reason == "1 fill due on the sync date, $12.00 margin."
    assert (money(123456), money(-5), money(0)) == ("$1,234.56", "-$0.05", "$0.00")
