"""The set-based reconciliation path equals the reference path: on random claim/payment/PLB
sets (hypothesis), and on the synthetic world."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciliation.engine import fast, matching

AS_OF = date(2026, 4, 30)
DAY0 = date(2026, 3, 1)


@st.composite
def worlds(draw: Any) -> tuple[list[Any], list[Any], list[Any]]:
    n = draw(st.integers(1, 12))
    claims = []
    for i in range(n):
        claims.append(
            matching.Claim(
                fill_id=i + 1,
                location_id=draw(st.sampled_from([10, 11])),
                rx_number=draw(st.integers(100, 104)),
                fill_number=draw(st.integers(0, 2)),
                date_of_service=DAY0 + timedelta(days=draw(st.integers(0, 3))),
                transaction_code=draw(st.sampled_from(["B1", "B1", "B3", "B2"])),
                reversed=draw(st.booleans()),
                has_plan=draw(st.booleans() | st.just(True)),
                authorization=draw(st.sampled_from(["", "A1", "A2", "A3", f"U{i}"])),
                expected_cents=draw(st.sampled_from([0, 1000, 1800])),
                due_on=DAY0 + timedelta(days=draw(st.integers(20, 70))),
            )
        )
    payments = []
    for j in range(draw(st.integers(0, 14))):
        refs = [f"{draw(st.integers(100, 105))}-{draw(st.integers(0, 2)):02d}", "104", "x-1", ""]
        payments.append(
            matching.Payment(
                payment_id=1000 + j,
                remittance_id=draw(st.sampled_from([1, 2])),
                location_id=draw(st.sampled_from([10, 11, None])),
                claim_ref=draw(st.sampled_from(refs)),
                payer_claim_control=draw(st.sampled_from(["", "A1", "A2", "U0", "U3", "zz"])),
                status=draw(st.sampled_from(["1", "1", "22"])),
                paid_cents=draw(st.sampled_from([0, 900, 1000, 1800, -1800])),
                service_date=draw(
                    st.sampled_from([None, DAY0, DAY0 + timedelta(days=1), DAY0 + timedelta(3)])
                ),
                adjustments=tuple(
                    draw(
                        st.lists(
                            st.sampled_from(
                                [("CO", "295", 50), ("CO", "45", 100), ("PR", "3", 200)]
                            ),
                            max_size=2,
                        )
                    )
                ),
            )
        )
    plb = [
        matching.ProviderAdjustment(
            adjustment_id=5000 + k,
            remittance_id=draw(st.sampled_from([1, 2, 3])),
            reason=draw(st.sampled_from(["CS", "FB", "WO", "L6"])),
            reference=draw(st.sampled_from(["", "A1", "U1", "TXN"])),
            amount_cents=draw(st.integers(-500, 2000)),
        )
        for k in range(draw(st.integers(0, 4)))
    ]
    return claims, payments, plb


def normalized(out: matching.Outcome) -> tuple[Any, ...]:
    return (
        sorted(out.results, key=lambda r: r.fill_id),
        sorted(out.unmatched, key=lambda u: u.payment_id),
        sorted(out.allocations, key=lambda a: (a.adjustment_id, a.fill_id or 0, a.allocated)),
    )


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_the_set_based_path_equals_the_reference_path(world: tuple[Any, Any, Any]) -> None:
    claims, payments, plb = world
    ref = matching.reconcile(claims, payments, plb, as_of=AS_OF)
    quick = fast.reconcile(claims, payments, plb, as_of=AS_OF)
    assert normalized(quick) == normalized(ref)
