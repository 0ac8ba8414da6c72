"""The dashboards' pure parts: the waterfall adds up to the net margin, the benchmark ranks
best first with ties sharing a rank, the median rounds exactly."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dashboards.figures import waterfall_figure, waterfall_parts
from dashboards.selectors import FIGURES, MarginRow
from dashboards.views import median, rank_rows


def row(key: str, **figures: int) -> MarginRow:
    values: dict[str, Any] = dict.fromkeys(FIGURES, 0)
    values.update(figures)
    return MarginRow(key=key, label=f"Store {key}", **values)


money = st.integers(min_value=-(10**9), max_value=10**9)


@given(money, money, money, money, money, money)
def test_the_waterfall_steps_add_up_to_the_net_margin(
    revenue: int, acquisition: int, actual: int, estimated: int, dirs: int, net: int
) -> None:
    total = row(
        "t",
        revenue_cents=revenue,
        acquisition_cents=acquisition,
        fees_actual_cents=actual,
        fees_estimated_cents=estimated,
        dir_cents=dirs,
        net_margin_cents=net,
    )
    parts = waterfall_parts(total)
    assert sum(cents for _, cents in parts) == net
    figure = waterfall_figure(total)["data"][0]
    assert figure["measure"][-1] == "total"
    assert len(figure["x"]) == len(parts) + 1


def test_ranking_puts_the_best_first_shares_ties_and_leaves_empty_stores_last() -> None:
    rows = [
        row("1", claims=10, net_margin_cents=500),  # 50 per script
        row("2", claims=10, net_margin_cents=900),  # 90
        row("3", claims=0),  # no scripts: no value
        row("4", claims=20, net_margin_cents=1000),  # 50
    ]
    ranked = rank_rows(rows, "net_margin_per_script", "up")
    assert [(rank, r.key, value) for rank, r, value in ranked] == [
        (1, "2", 90),
        (2, "1", 50),
        (2, "4", 50),
        (0, "3", None),
    ]
    lowest_first = rank_rows(rows, "below_cost_rate", "down")
    assert [r.key for _, r, _ in lowest_first][:3] == ["1", "2", "4"]


def test_the_median_is_exact() -> None:
    assert median([1, 2, 4]) == 2
    assert median([1, 2]) == 2  # 1.5 cents rounds half up
    assert median([-1, -2]) == -2  # half away from zero
    assert median([Decimal("0.1000"), Decimal("0.2001")]) == Decimal("0.1501")  # 0.15005 up
    assert median([None, None]) is None
