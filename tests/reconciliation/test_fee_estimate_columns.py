"""The run's column-wise fee estimate equals the contract engine's, claim by claim
(`core.estimated_fees_cents`, Decimal, half-up), on random claims and fee terms."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciliation.engine import contracts as core
from reconciliation.services.runs import _with_terms

DAY0 = date(2026, 3, 1)
percents = st.decimals(min_value=Decimal("0"), max_value=Decimal("30"), places=3)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from([None, 1, 2]),  # plan
            st.integers(0, 3),  # day
            st.integers(-50_000, 5_000_000),  # ingredient cost paid
            st.integers(-50_000, 5_000_000),  # plan paid
            st.booleans(),  # has plan
            st.sampled_from(["B1", "B2", "B3"]),
            st.booleans(),  # brand
        ),
        min_size=1,
        max_size=30,
    ),
    per_claim=st.integers(0, 500),
    pct_ing=percents,
    pct_paid=percents,
)
def test_column_estimate_equals_the_contract_engine(
    rows: list[Any], per_claim: int, pct_ing: Decimal, pct_paid: Decimal
) -> None:
    contract = core.ContractTerms(
        contract_id=1,
        bin="610014",
        pcn="*",
        group="*",
        effective_from=DAY0,
        fees=core.FeeTerms(
            per_claim_cents=per_claim, pct_of_ingredient=pct_ing, pct_of_plan_paid=pct_paid
        ),
    )

    def terms(plan: int | None, day: date) -> tuple[Any, date, date]:
        # plan 2 has no contract
        due = day + timedelta(days=30)
        return (contract if plan == 1 else None), due, due

    claims = pd.DataFrame(
        {
            "fill_id": range(len(rows)),
            "plan_id": pd.array([r[0] for r in rows], dtype="Int64"),
            "dos": pd.to_datetime([DAY0 + timedelta(days=r[1]) for r in rows]).astype(
                "datetime64[ns]"
            ),
            "ingredient": [r[2] for r in rows],
            "expected": [r[3] for r in rows],
            "has_plan": [r[4] for r in rows],
            "tx": pd.Series([r[5] for r in rows], dtype=object),
            "brand": [r[6] for r in rows],
        }
    )
    out = _with_terms(claims, terms).set_index("fill_id")
    for i, (plan, day, ingredient, paid, has_plan, tx, brand) in enumerate(rows):
        want = 0
        if plan == 1 and has_plan and tx != "B2":
            want = core.estimated_fees_cents(
                core.ClaimFacts(
                    date_of_service=DAY0 + timedelta(days=day),
                    is_brand=brand,
                    quantity=Decimal(30),
                    ingredient_cost_paid_cents=ingredient,
                    dispensing_fee_paid_cents=0,
                    patient_pay_cents=0,
                    total_paid_cents=paid,
                ),
                contract,
            )
        assert out.loc[i, "estimated"] == want
        assert out.loc[i, "due"] == pd.Timestamp(DAY0 + timedelta(days=day + 30))
