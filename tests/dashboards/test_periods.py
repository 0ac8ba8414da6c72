"""Date presets and the period each is compared with (pure)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from dashboards.periods import DEFAULT_PRESET, MAX_DAYS, PRESETS, period_for, previous_period

TODAY = date(2026, 12, 4)


def test_presets_as_of_a_day() -> None:
    assert (period_for("mtd", today=TODAY).start, period_for("mtd", today=TODAY).end) == (
        date(2026, 12, 1),
        TODAY,
    )
    last = period_for("last_month", today=TODAY)
    assert (last.start, last.end) == (date(2026, 11, 1), date(2026, 11, 30))
    assert period_for("qtd", today=TODAY).start == date(2026, 10, 1)
    assert period_for("ytd", today=TODAY).start == date(2026, 1, 1)
    thirty = period_for("30d", today=TODAY)
    assert (thirty.start, thirty.end, thirty.days) == (date(2026, 11, 5), TODAY, 30)
    assert period_for("nonsense", today=TODAY).preset == DEFAULT_PRESET


def test_comparisons_are_the_same_stretch_one_step_back() -> None:
    mtd = previous_period(period_for("mtd", today=TODAY))
    assert (mtd.start, mtd.end) == (date(2026, 11, 1), date(2026, 11, 4))
    # March 31 month to date against February: clipped at Feb 28, never into March
    march = previous_period(period_for("mtd", today=date(2026, 3, 31)))
    assert (march.start, march.end) == (date(2026, 2, 1), date(2026, 2, 28))
    last = previous_period(period_for("last_month", today=date(2026, 3, 15)))
    assert (last.start, last.end) == (date(2026, 1, 1), date(2026, 1, 31))
    qtd = previous_period(period_for("qtd", today=date(2026, 5, 31)))
    assert (qtd.start, qtd.end) == (date(2026, 1, 1), date(2026, 2, 28))
    ytd = previous_period(period_for("ytd", today=date(2028, 2, 29)))
    assert (ytd.start, ytd.end) == (date(2027, 1, 1), date(2027, 2, 28))
    custom = previous_period(
        period_for("custom", today=TODAY, start=date(2026, 3, 1), end=date(2026, 3, 31))
    )
    assert (custom.start, custom.end) == (date(2026, 1, 29), date(2026, 2, 28))


def test_a_custom_range_is_put_in_order_and_bounded() -> None:
    p = period_for("custom", today=TODAY, start=date(2026, 5, 1), end=date(2026, 4, 1))
    assert (p.start, p.end) == (date(2026, 4, 1), date(2026, 5, 1))
    only_start = period_for("custom", today=TODAY, start=date(2026, 11, 20))
    assert (only_start.start, only_start.end) == (date(2026, 11, 20), TODAY)
    long = period_for("custom", today=TODAY, start=date(2000, 1, 1), end=TODAY)
    assert long.days == MAX_DAYS
    assert period_for("custom", today=TODAY).preset == DEFAULT_PRESET  # no dates: the default


@given(
    st.sampled_from(sorted(PRESETS)),
    st.dates(min_value=date(2001, 1, 1), max_value=date(2098, 12, 31)),
    st.integers(min_value=0, max_value=800),
)
def test_every_comparison_period_ends_before_its_period_and_is_as_long_give_or_take_a_month_end(
    preset: str, today: date, span: int
) -> None:
    period = period_for(preset, today=today, start=today - timedelta(days=span), end=today)
    before = previous_period(period)
    assert before.start <= before.end < period.start
    if preset in ("30d", "custom"):
        assert before.days == period.days
    elif preset != "last_month":  # the same dates a month, quarter or year back
        assert abs(before.days - period.days) <= 3
    assert period.start <= period.end
