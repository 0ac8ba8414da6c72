"""The run's column-wise acquisition cost lookup (latest price on or before the date of
service, highest id on that date) equals a plain loop over the price rows, and the cents
are the exact half-up rounding of unit price x quantity."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciliation.services.runs import _cents_of, price_on_day

DAY0 = date(2026, 3, 1)


def naive(claim: dict[str, Any], prices: list[dict[str, Any]], by: list[str]) -> float:
    rows = [p for p in prices if all(p[k] == claim[k] for k in by) and p["day"] <= claim["dos"]]
    if any(claim[k] is None for k in by) or not rows:
        return float("nan")
    return float(max(rows, key=lambda p: (p["day"], p["id"]))["unit"])


@settings(max_examples=80, deadline=None)
@given(
    claims=st.lists(
        st.tuples(st.integers(1, 2), st.sampled_from([None, 10, 11, 12]), st.integers(0, 6)),
        min_size=1,
        max_size=25,
    ),
    prices=st.lists(
        st.tuples(
            st.integers(1, 2),
            st.sampled_from([10, 11, 12]),
            st.integers(0, 6),
            st.integers(1, 10_000_000),
        ),
        max_size=25,
    ),
    by_store=st.booleans(),
)
def test_latest_price_on_or_before_the_day_equals_a_plain_loop(
    claims: list[Any], prices: list[Any], by_store: bool
) -> None:
    by = ["location_id", "drug"] if by_store else ["drug"]
    claim_rows = [
        {"location_id": loc, "drug": drug, "dos": pd.Timestamp(DAY0 + timedelta(days=d))}
        for loc, drug, d in claims
    ]
    price_rows = [
        {"location_id": loc, "drug": drug, "day": pd.Timestamp(DAY0 + timedelta(days=d)),
         "id": i + 1, "unit": unit}
        for i, (loc, drug, d, unit) in enumerate(reversed(prices))
    ]  # fmt: skip
    frame = pd.DataFrame(claim_rows).astype({"drug": "float64", "dos": "datetime64[ns]"})
    table = pd.DataFrame(price_rows, columns=["location_id", "drug", "day", "id", "unit"]).astype(
        {"day": "datetime64[ns]", "unit": "int64", "id": "int64"}
    )
    got = price_on_day(frame, table if by_store else table.drop(columns="location_id"), by)
    want = [naive(c, price_rows, by) for c in claim_rows]
    np.testing.assert_array_equal(got.to_numpy(), np.array(want, dtype="float64"))


@given(
    units=st.lists(st.integers(0, 10**10), min_size=1, max_size=20),
    qty=st.lists(st.integers(-(10**6), 10**7), min_size=20, max_size=20),
)
def test_cents_are_unit_times_quantity_rounded_half_up(units: list[int], qty: list[int]) -> None:
    q = qty[: len(units)]
    got = _cents_of(pd.Series(units), pd.Series(q))
    want = [
        int((Decimal(u) / 10**5 * (Decimal(x) / 1000) * 100).quantize(0, ROUND_HALF_UP))
        for u, x in zip(units, q, strict=True)
    ]
    assert got.tolist() == want
    # beyond int64's range, the same rounding on Python integers
    big = _cents_of(pd.Series([10**12, 3 * 10**11 + 7]), pd.Series([5 * 10**9 + 1, 10**9 - 3]))
    assert big.tolist() == [
        int((Decimal(u) * x / 10**6).quantize(0, ROUND_HALF_UP))
        for u, x in [(10**12, 5 * 10**9 + 1), (3 * 10**11 + 7, 10**9 - 3)]
    ]
